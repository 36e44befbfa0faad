"""The default synthesis method: rank every lexicon word by calibrated likelihood, read the bag off the ranking.

Why: a 135M model asked to *generate* a bag repeats one word for almost every face (near-chance agreement on the
labeled set), but it *ranks* continuations well. So each word is scored as the continuation of the prompt plus an
answer prefix, and the answer is read off the ranking; the model never writes free text, so nothing from a
sample can reach the output.

Score: the mean token log-likelihood of `" " + word` after `prompt + answer prefix` (mean, not sum, so that
multi-token words are not penalized for their length).

Cost: the prompt is evaluated once; for each category the answer prefix is evaluated once on top of it; every
candidate then evaluates only its own tokens from that saved point (the KV cache is rewound to it by setting
`n_past` back, see `Session.rewind`). The first token of every word is scored from the logits already there,
so single-token words cost nothing and a cell costs about one prompt evaluation.

Calibration (contextual calibration, Zhao et al. 2021): the same prompt with every sample text replaced by a
content-free filler gives each word's prior under this prompt shape; the calibrated score is `score - prior`
(with several fillers in `prompt.CONTENT_FREE_TEXTS`, the prior is their mean; one empty filler did as well as
four on the labeled set, at a quarter of the cost). Priors depend only on the shape (number of samples, which
have a user line), so they are memoized per loaded model: a run pays for them once per shape.

Pooling and calibration per category (issue 17, chosen on tests/data/synthesis/dev.jsonl only): the primary
question is asked in the four wordings of `PRIMARY_PREFIXES` on top of the same evaluated prompt (each costs
only its prefix and the multi-token words) and the calibrated scores are averaged (`pooling.weighted_pool`, in
nats); then the model's per-category offset (`CATEGORY_OFFSETS`: each circumplex cell's mean pooled score over
the dev set) is subtracted, so no category starts ahead for that model (SmolLM2 favoured the negative
high-arousal cells and almost never reached NB before). Tried and not kept: the face alone as evidence
(`prompt.face_prompt`, `FACE_WEIGHT`; no gain on dev at any weight tried, it costs a second prompt), standardizing
the wordings before pooling (worse with the offsets). Per-sample scoring with a median pool
(`pooling.median_pool`) was not measured on dev for lack of CPU time here.

Choosing (in nats of calibrated mean log-likelihood):
- primary: each circumplex cell of the lexicon is scored by the mean calibrated score of its words (its 2-3
  near-synonyms vote together, which is steadier than any single word); the best cell's best word comes first,
  then that cell's other words while within `PRIMARY_MARGIN` of it;
- stance: the best 3 words, plus the 4th and 5th while within `STANCE_MARGIN` of the 3rd.
Counts therefore always land in 1-3 and 3-5, words are distinct by construction, and the result still passes
`validate_bag` before it is returned.

History: on the issue-5 labeled set the cell rule put 29 of 36 cells in the intended circumplex cell, where
ranking single words (same calibration) put 24 first words there and the uncalibrated ranking 12. Agreement of
the current method on the dev and test sets: README, "How well it works" (bench/synthesis.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from llmojid.common.lexicon import (
    CELL_OF_WORD,
    CELLS,
    PRIMARY_COUNT,
    PRIMARY_KEY,
    PRIMARY_WORDS,
    STANCE_COUNT,
    STANCE_KEY,
    STANCE_WORDS,
    Bag,
    validate_bag,
)
from llmojid.daemon.model.chat import chat_tokens
from llmojid.daemon.model.pooling import weighted_pool
from llmojid.daemon.model.prompt import CONTENT_FREE_TEXTS, PromptSample, content_free, face_prompt, render_prompt
from llmojid.daemon.model.runner import Session

PRIMARY_PREFIX: Final = "The kaomoji [FACE] conveys a feeling that is"
STANCE_PREFIX: Final = "In these samples, the assistant using [FACE] comes across as"
# Wordings of the primary question, averaged where a method asks for several (the first is PRIMARY_PREFIX).
PRIMARY_PREFIXES: Final = (
    PRIMARY_PREFIX,
    "Overall, the mood that [FACE] expresses is",
    "In one word, the assistant writing [FACE] feels",
    "The emotion behind [FACE] is best described as",
)
# The method (chosen on the dev set, see the module docstring): which wordings are averaged, and the weight of
# the face's own look next to the samples (0 = the samples only).
PRIMARY_WORDINGS: Final[tuple[int, ...]] = (0, 1, 2, 3)
FACE_WEIGHT: Final = 0.0
#: Calibration per category: each model's mean pooled score of each circumplex cell's words over the dev set
#: (tests/data/synthesis/dev.jsonl, bench/synthesis_explore.py), subtracted so that no category starts ahead of
#: the others for this model. Keyed by model id (the GGUF file name); a model not listed gets no offsets.
CATEGORY_OFFSETS: Final[dict[str, dict[str, float]]] = {
    "SmolLM2-135M-Instruct.Q4_1.gguf": {
        "HP-D": -0.387, "HP-S": 0.513, "LP": -0.588, "NP": 0.786, "HN-D": 0.725,
        "HN-S": 0.873, "LN": -0.545, "NB": -1.186, "HB": 0.469,
    },
    "gemma-3-270m-q4_k_m.gguf": {
        "HP-D": -0.865, "HP-S": -0.778, "LP": -1.303, "NP": -0.148, "HN-D": -0.542,
        "HN-S": -0.614, "LN": -0.353, "NB": -1.251, "HB": -0.234,
    },
}  # fmt: skip
#: Names the rule in cache keys: bags made under another rule are not reused.
SCORING_RULE: Final = f"scoring-rule=wordings{'+'.join(map(str, PRIMARY_WORDINGS))},face{FACE_WEIGHT:g}"
PRIMARY_MARGIN: Final = 0.35
STANCE_MARGIN: Final = 0.15


@dataclass(frozen=True, slots=True)
class Ranking:
    """Calibrated scores of one category, best first (for the bench and for debugging; holds no text)."""

    words: tuple[str, ...]
    scores: tuple[float, ...]


def _score_words(session: Session, words: Sequence[str]) -> dict[str, float]:
    """Mean token log-likelihood of each `" " + word` continuing the current context.

    Leaves the context as it found it (rewinds after each candidate).
    """
    base = session.n_past
    first = session.last_logprobs()
    # logprob rows after each evaluated token prefix (relative to `base`), shared between words
    rows: dict[tuple[int, ...], object] = {(): first}
    scores: dict[str, float] = {}
    for word in words:
        tokens = session.tokenize(" " + word)
        total = 0.0
        for index, token in enumerate(tokens):
            prefix = tuple(tokens[:index])
            if prefix not in rows:
                session.rewind(base)
                session.eval(list(prefix))
                rows[prefix] = session.last_logprobs()
            row = rows[prefix]
            total += float(row[token])  # type: ignore[index]
        scores[word] = total / len(tokens)
    session.rewind(base)
    return scores


Scores = dict[str, dict[str, float]]


def _questions(with_stance: bool) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, answer prefix, candidate words) asked of one prompt: the primary question in each of the method's
    wordings (`primary/<index into PRIMARY_PREFIXES>`), and the stance question."""
    out = [(f"{PRIMARY_KEY}/{i}", PRIMARY_PREFIXES[i], PRIMARY_WORDS) for i in PRIMARY_WORDINGS]
    if with_stance:
        out.append((STANCE_KEY, STANCE_PREFIX, STANCE_WORDS))
    return out


def _prompt_scores(session: Session, prompt: str, with_stance: bool) -> Scores:
    """Uncalibrated scores for each question under one prompt. Evaluates the prompt once; every question's
    prefix is evaluated on top of it."""
    session.rewind(0)
    session.eval(chat_tokens(session, prompt))
    base = session.n_past
    result: Scores = {}
    for name, prefix, words in _questions(with_stance):
        session.rewind(base)
        session.eval(session.tokenize(prefix))
        result[name] = _score_words(session, words)
    session.rewind(0)
    return result


def raw_scores(session: Session, samples: Sequence[PromptSample]) -> Scores:
    """Uncalibrated scores of the samples' prompt: `primary_affect/<i>` per wording and `stance_modality_function`."""
    return _prompt_scores(session, render_prompt(samples), with_stance=True)


def face_scores(session: Session, face: str) -> Scores:
    """Uncalibrated primary scores of the face alone (its look as evidence), per wording."""
    return _prompt_scores(session, face_prompt(face), with_stance=False)


def _shape(samples: Sequence[PromptSample]) -> tuple[bool, ...]:
    return tuple(sample.user is not None for sample in samples)


def _prior_key(model_id: str, samples: Sequence[PromptSample]) -> tuple[object, ...]:
    prefixes = tuple(PRIMARY_PREFIXES[i] for i in PRIMARY_WORDINGS)
    return ("scoring-prior", model_id, _shape(samples), prefixes, STANCE_PREFIX, CONTENT_FREE_TEXTS)


def _face_prior_key(model_id: str) -> tuple[object, ...]:
    return ("scoring-face-prior", model_id, tuple(PRIMARY_PREFIXES[i] for i in PRIMARY_WORDINGS), FACE_WEIGHT)


def has_priors(model_id: str, samples: Sequence[PromptSample], memo: dict[object, object]) -> bool:
    """Whether `memo` already holds the calibration priors for this prompt shape (and for the face prompt)."""
    return _prior_key(model_id, samples) in memo and (FACE_WEIGHT == 0 or _face_prior_key(model_id) in memo)


def calibration_scores(session: Session, samples: Sequence[PromptSample], memo: dict[object, object]) -> Scores:
    """Content-free priors for this prompt shape (the mean over the fillers), memoized in `memo` (the runner's
    per-model memo). Also computes the face prompt's prior (an empty face) when the method uses the face."""
    key = _prior_key(session.model_id, samples)
    cached = memo.get(key)
    if cached is None:
        runs = [raw_scores(session, content_free(samples, filler)) for filler in CONTENT_FREE_TEXTS]
        cached = {
            category: {word: sum(run[category][word] for run in runs) / len(runs) for word in runs[0][category]}
            for category in runs[0]
        }
        memo[key] = cached
    if FACE_WEIGHT and _face_prior_key(session.model_id) not in memo:
        memo[_face_prior_key(session.model_id)] = face_scores(session, "")
    return cached  # type: ignore[return-value]


def _calibrated(scores: dict[str, float], prior: dict[str, float]) -> dict[str, float]:
    return {word: scores[word] - prior[word] for word in scores}


def pooled_primary(
    model_id: str,
    samples_scores: Scores,
    samples_prior: Scores,
    face: Scores | None = None,
    face_prior: Scores | None = None,
) -> dict[str, float]:
    """The method's primary evidence, in nats: the mean over the wordings of the samples' calibrated scores
    (`pooling.weighted_pool`), with the face's own look standardized in at `FACE_WEIGHT` when given, minus the
    model's per-category offset (`CATEGORY_OFFSETS`; none for a model not measured here)."""
    names = [f"{PRIMARY_KEY}/{i}" for i in PRIMARY_WORDINGS]
    pooled = weighted_pool([(_calibrated(samples_scores[n], samples_prior[n]), 1.0) for n in names], standardized=False)
    if face is not None and face_prior is not None and FACE_WEIGHT:
        look = weighted_pool([(_calibrated(face[n], face_prior[n]), 1.0) for n in names], standardized=False)
        pooled = weighted_pool([(pooled, 1.0), (look, FACE_WEIGHT)])
    offsets = CATEGORY_OFFSETS.get(model_id, {})
    return {word: score - offsets.get(CELL_OF_WORD[word], 0.0) for word, score in pooled.items()}


def rank(scores: dict[str, float], prior: dict[str, float]) -> Ranking:
    """Calibrated ranking, best first; ties broken by lexicon order (deterministic)."""
    order = list(scores)
    calibrated = {word: scores[word] - prior[word] for word in order}
    best = sorted(order, key=lambda w: (-calibrated[w], order.index(w)))
    return Ranking(words=tuple(best), scores=tuple(calibrated[w] for w in best))


def pick(ranking: Ranking, bounds: tuple[int, int], margin: float, anchor: int) -> list[str]:
    """The margin rule: keep the first `bounds[0]` words, then more (up to `bounds[1]`) while each is within
    `margin` of the word at position `anchor` (0-based)."""
    lo, hi = bounds
    chosen = list(ranking.words[:lo])
    threshold = ranking.scores[anchor] - margin
    for word, score in zip(ranking.words[lo:hi], ranking.scores[lo:hi], strict=True):
        if score < threshold:
            break
        chosen.append(word)
    return chosen


def pick_primary(ranking: Ranking, margin: float = PRIMARY_MARGIN) -> list[str]:
    """The cell rule (module docstring): the circumplex cell whose words score best on average, then its words."""
    score = dict(zip(ranking.words, ranking.scores, strict=True))
    order = {word: index for index, word in enumerate(PRIMARY_WORDS)}
    best_cell = max(
        CELLS, key=lambda cell: (sum(score[w] for w in CELLS[cell]) / len(CELLS[cell]), -order[CELLS[cell][0]])
    )
    words = sorted(CELLS[best_cell], key=lambda w: (-score[w], order[w]))
    chosen = [words[0]]
    chosen += [w for w in words[1 : PRIMARY_COUNT[1]] if score[w] >= score[words[0]] - margin]
    return chosen


def score_cell(
    session: Session, samples: Sequence[PromptSample], memo: dict[object, object], face: str = ""
) -> tuple[Bag, dict[str, Ranking]]:
    """Scoring synthesis of one cell: the validated bag and the rankings it came from. `face` (the canonical
    face, untrusted journal text like the samples) adds its own look as evidence when `FACE_WEIGHT` > 0."""
    prior = calibration_scores(session, samples, memo)
    scores = raw_scores(session, samples)
    face_evidence: Scores | None = None
    face_prior: Scores | None = None
    if face and FACE_WEIGHT:
        face_prior = memo[_face_prior_key(session.model_id)]  # type: ignore[assignment]
        face_evidence = face_scores(session, face)
    pooled = pooled_primary(session.model_id, scores, prior, face_evidence, face_prior)
    rankings = {
        PRIMARY_KEY: rank(pooled, dict.fromkeys(pooled, 0.0)),
        STANCE_KEY: rank(scores[STANCE_KEY], prior[STANCE_KEY]),
    }
    bag = validate_bag(
        {
            PRIMARY_KEY: pick_primary(rankings[PRIMARY_KEY]),
            STANCE_KEY: pick(rankings[STANCE_KEY], STANCE_COUNT, STANCE_MARGIN, anchor=STANCE_COUNT[0] - 1),
        }
    )
    return bag, rankings
