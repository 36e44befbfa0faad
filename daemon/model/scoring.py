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

Choosing (in nats of calibrated mean log-likelihood):
- primary: each circumplex cell of the lexicon is scored by the mean calibrated score of its words (its 2-3
  near-synonyms vote together, which is steadier than any single word); the best cell's best word comes first,
  then that cell's other words while within `PRIMARY_MARGIN` of it;
- stance: the best 3 words, plus the 4th and 5th while within `STANCE_MARGIN` of the 3rd.
Counts therefore always land in 1-3 and 3-5, words are distinct by construction, and the result still passes
`validate_bag` before it is returned.

On the labeled set (bench/synthesis.py) the cell rule put 29 of 36 cells in the intended circumplex cell, where
ranking single words (same calibration) put 24 first words there and the uncalibrated ranking 12. The variants
were compared on that same set, so that number is optimistic; on a held-out set written afterwards
(tests/data/synthesis/heldout.jsonl, 9 cells) the agreement was 0.67.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from llmojid.common.lexicon import (
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
from llmojid.daemon.model.prompt import CONTENT_FREE_TEXTS, PromptSample, content_free, render_prompt
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


def raw_scores(session: Session, samples: Sequence[PromptSample]) -> dict[str, dict[str, float]]:
    """Uncalibrated scores for both categories under one prompt. Evaluates the prompt once."""
    session.rewind(0)
    session.eval(chat_tokens(session, render_prompt(samples)))
    base = session.n_past
    result: dict[str, dict[str, float]] = {}
    for key, prefix, words in (
        (PRIMARY_KEY, PRIMARY_PREFIX, PRIMARY_WORDS),
        (STANCE_KEY, STANCE_PREFIX, STANCE_WORDS),
    ):
        session.rewind(base)
        session.eval(session.tokenize(prefix))
        result[key] = _score_words(session, words)
    session.rewind(0)
    return result


def _shape(samples: Sequence[PromptSample]) -> tuple[bool, ...]:
    return tuple(sample.user is not None for sample in samples)


def _prior_key(model_id: str, samples: Sequence[PromptSample]) -> tuple[object, ...]:
    return ("scoring-prior", model_id, _shape(samples), PRIMARY_PREFIX, STANCE_PREFIX, CONTENT_FREE_TEXTS)


def has_priors(model_id: str, samples: Sequence[PromptSample], memo: dict[object, object]) -> bool:
    """Whether `memo` already holds the calibration priors for this prompt shape."""
    return _prior_key(model_id, samples) in memo


def calibration_scores(
    session: Session, samples: Sequence[PromptSample], memo: dict[object, object]
) -> dict[str, dict[str, float]]:
    """Content-free priors for this prompt shape (the mean over the fillers), memoized in `memo` (the runner's
    per-model memo)."""
    key = _prior_key(session.model_id, samples)
    cached = memo.get(key)
    if cached is None:
        runs = [raw_scores(session, content_free(samples, filler)) for filler in CONTENT_FREE_TEXTS]
        cached = {
            category: {word: sum(run[category][word] for run in runs) / len(runs) for word in runs[0][category]}
            for category in runs[0]
        }
        memo[key] = cached
    return cached  # type: ignore[return-value]


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
    session: Session, samples: Sequence[PromptSample], memo: dict[object, object]
) -> tuple[Bag, dict[str, Ranking]]:
    """Scoring synthesis of one cell: the validated bag and the rankings it came from."""
    prior = calibration_scores(session, samples, memo)
    scores = raw_scores(session, samples)
    rankings = {key: rank(scores[key], prior[key]) for key in (PRIMARY_KEY, STANCE_KEY)}
    bag = validate_bag(
        {
            PRIMARY_KEY: pick_primary(rankings[PRIMARY_KEY]),
            STANCE_KEY: pick(rankings[STANCE_KEY], STANCE_COUNT, STANCE_MARGIN, anchor=STANCE_COUNT[0] - 1),
        }
    )
    return bag, rankings
