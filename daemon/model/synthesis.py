"""One entry point for turning a cell's samples into a bag, shared by the daemon, the tests and the bench.

`synthesize_cell(runner, method, samples)` (blocking) and `synthesize_cell_async` (trio) both return a
validated `Bag` or raise; a failed cell is never filled with a guess. Errors are typed:
- `SynthesisError` (lexicon / generation failure: the model's answer was not a valid bag);
- the runner's `DeadlineExceeded`, `CallCancelled`, `ContextOverflow`, `ModelError`.

`cell_samples(rows, source_model, canonical)` applies the spec's sample choice and the prompt preparation
(masking, sanitizing, neutralizing, caps) from `prompt.py`.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Sequence
from typing import Final

from llmojid.common.lexicon import Bag, LexiconError
from llmojid.daemon.model.chat import chat_tokens
from llmojid.daemon.model.generation import INSTRUCTION, generate_cell
from llmojid.daemon.model.prompt import (
    ELLIPSIS,
    JournalSample,
    PromptSample,
    prepare_sample,
    render_prompt,
    select_samples,
)
from llmojid.daemon.model.runner import (
    DEFAULT_DEADLINE_S,
    DEFAULT_MAX_TOKENS,
    ContextOverflow,
    ModelRunner,
    Session,
)
from llmojid.daemon.model.scoring import calibration_scores, has_priors, score_cell

# Tokens kept free after the prompt: the answer prefix plus the longest candidate, or the generated answer.
ANSWER_RESERVE: Final = 128
# How often a prompt that does not fit is shrunk before the cell fails with ContextOverflow.
FIT_ATTEMPTS: Final = 4
# Per-sample token caps. The character caps of prompt.py assume English (about 4 characters a token); CJK text or
# emoji take 1-3 tokens a character, and tokens are what a cell costs. These bound a cell to about 1,300 tokens.
MAX_USER_TOKENS: Final = 96
MAX_ASSISTANT_TOKENS: Final = 192


class Method(enum.StrEnum):
    """Synthesis methods. `scoring` is the default (see scoring.py for why); `generation` is grammar-constrained
    generation (generation.py), meant for bigger chat models."""

    SCORING = "scoring"
    GENERATION = "generation"


DEFAULT_METHOD: Final = Method.SCORING


class SynthesisError(Exception):
    """The model's answer for a cell was not a valid bag. The message names the rule, never the text."""


def cell_samples(rows: Sequence[JournalSample], source_model: str, canonical: str) -> list[PromptSample]:
    """The cell's prompt samples: seeded choice of at most 4 rows, then masking, sanitizing, caps."""
    return [prepare_sample(row, canonical) for row in select_samples(rows, source_model, canonical)]


def _cut(text: str, factor: float) -> str:
    limit = max(16, int(len(text) * factor))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def _shrink(samples: Sequence[PromptSample], factor: float) -> list[PromptSample]:
    return [
        PromptSample(user=None if s.user is None else _cut(s.user, factor), assistant=_cut(s.assistant, factor))
        for s in samples
    ]


def _cap_tokens(session: Session, text: str, cap: int) -> str:
    """Cut `text` (at a character boundary, with an ellipsis) until it holds at most about `cap` tokens."""
    for _ in range(FIT_ATTEMPTS):
        used = len(session.tokenize(text))
        if used <= cap:
            break
        text = _cut(text, 0.95 * cap / used)
    return text


def fit_to_context(session: Session, samples: Sequence[PromptSample], method: Method) -> list[PromptSample]:
    """Cap each sample's tokens (`MAX_USER_TOKENS`, `MAX_ASSISTANT_TOKENS`), then shrink the texts until the
    prompt leaves `ANSWER_RESERVE` tokens free in the context.

    Raises:
        ContextOverflow: the prompt still does not fit (a context set far below the default).
    """
    suffix = INSTRUCTION if method is Method.GENERATION else ""
    budget = session.n_ctx - ANSWER_RESERVE
    current = [
        PromptSample(
            user=None if s.user is None else _cap_tokens(session, s.user, MAX_USER_TOKENS),
            assistant=_cap_tokens(session, s.assistant, MAX_ASSISTANT_TOKENS),
        )
        for s in samples
    ]
    for _ in range(FIT_ATTEMPTS):
        used = len(chat_tokens(session, render_prompt(current) + suffix))
        if used <= budget:
            return current
        current = _shrink(current, 0.9 * budget / used)
    raise ContextOverflow("samples do not fit the model context even after shrinking")


def cell_job(
    method: Method, samples: Sequence[PromptSample], memo: dict[object, object], face: str = ""
) -> Callable[[Session], Bag]:
    """The work of one cell on a model session (what the runner runs in its worker thread; the bench runs it on a
    bare `Llama` to measure the daemon's overhead). `face` is the cell's canonical face (scoring's face evidence)."""

    def run(session: Session) -> Bag:
        fitted = fit_to_context(session, samples, method)
        try:
            if method is Method.SCORING:
                return score_cell(session, fitted, memo, face)[0]
            return generate_cell(session, fitted)
        except LexiconError as exc:
            raise SynthesisError(f"{method.value} synthesis gave no valid bag: {exc}") from exc

    return run


def prior_job(samples: Sequence[PromptSample], memo: dict[object, object]) -> Callable[[Session], None]:
    """Scoring's calibration priors for this prompt shape, as a call of its own (a new shape's first cell does
    not pay for them out of its deadline)."""

    def run(session: Session) -> None:
        calibration_scores(session, samples, memo)

    return run


def synthesize_cell(
    runner: ModelRunner,
    method: Method | str,
    samples: Sequence[PromptSample],
    *,
    deadline_s: float = DEFAULT_DEADLINE_S,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    stop: threading.Event | None = None,
    face: str = "",
) -> Bag:
    """Synthesize one cell, blocking the calling thread (bench, tests, worker code)."""
    method = Method(method)
    if method is Method.SCORING and not has_priors(runner.model_id, samples, runner.memo):
        runner.call_sync(prior_job(samples, runner.memo), deadline_s=deadline_s, stop=stop)
    job = cell_job(method, samples, runner.memo, face)
    return runner.call_sync(job, deadline_s=deadline_s, max_tokens=max_tokens, stop=stop)


async def synthesize_cell_async(
    runner: ModelRunner,
    method: Method | str,
    samples: Sequence[PromptSample],
    *,
    deadline_s: float = DEFAULT_DEADLINE_S,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    face: str = "",
) -> Bag:
    """Synthesize one cell from trio without blocking the loop; cancelling the caller stops the model call."""
    method = Method(method)
    if method is Method.SCORING and not has_priors(runner.model_id, samples, runner.memo):
        await runner.call(prior_job(samples, runner.memo), deadline_s=deadline_s)
    job = cell_job(method, samples, runner.memo, face)
    return await runner.call(job, deadline_s=deadline_s, max_tokens=max_tokens)
