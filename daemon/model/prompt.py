"""Synthesis input for one cell: sample choice, `[FACE]` masking, sanitizing, the prompt text (spec section 4).

Pure: no I/O, no model. Everything that turns journal rows into prompt text lives here so that the daemon, the
tests and `bench/synthesis.py` build byte-identical prompts.

Trust boundary: journal text is untrusted (a transcript can hold anything a web page or a repository said).
Before a sample reaches a prompt it is, in this order:
1. cut to a bounded raw length (`RAW_SCAN_FACTOR` x its cap), so a 1 MB sample costs a bounded amount of work
   and is never sent whole;
2. face-masked: every occurrence of the face (as written and canonical) becomes the literal token `[FACE]`;
3. passed through the PII sanitizer (`llmojid.common.sanitizer`), on the raw text (so multi-line shapes such
   as PEM keys are still seen);
4. normalized: NFKC, control / bidi / zero-width characters removed, all whitespace (newlines included)
   collapsed to single spaces so a sample is exactly one `User:` and one `Assistant:` line and cannot start a
   line of its own; then sanitized again (an address split by a zero-width space is only visible now);
5. defused: fake `[Sample N]` headers, role markers and chat-template special tokens lose their shape;
6. cut to its cap (`MAX_USER_CHARS` / `MAX_ASSISTANT_CHARS`), marked with an ellipsis.
The output constraint (lexicon words only, validated) is the second wall; this is the first.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from llmojid.common.sanitizer import sanitize

MAX_SAMPLES: Final = 4
# Per-sample caps, in characters after neutralizing. 400 + 800 = 1,200 characters a sample: four samples stay
# near 1,300 tokens for English text, well inside the runner's default context (runner.DEFAULT_N_CTX). Why not
# more: the prompt is the whole cost of a cell (about 90 tokens a second per core for the embedded model on a
# plain x86-64 CPU), and the tone a face sets is carried by the words right after it, not by the end of a long
# message.
MAX_USER_CHARS: Final = 400
MAX_ASSISTANT_CHARS: Final = 800
# Raw text beyond this multiple of the cap is dropped before any regex runs on it.
RAW_SCAN_FACTOR: Final = 4
FACE_TOKEN: Final = "[FACE]"  # noqa: S105 - the spec's mask token, not a secret
ELLIPSIS: Final = "…"
#: Content-free stand-ins for sample text (scoring's calibration baselines; see scoring.py).
CONTENT_FREE_TEXTS: Final = ("",)

PROMPT_HEADER: Final = (
    "The following are samples of chats where a specific kaomoji has been replaced with the literal token "
    "[FACE] in each sample.\n"
    "\n"
    "Please pick the adjectives that best describe what the kaomoji conveys.\n"
    "\n"
    "Samples:\n"
)


@dataclass(frozen=True, slots=True)
class JournalSample:
    """One journal row as the synthesis needs it. `row_id` defines the order the seeded sample draws from."""

    row_id: int
    kaomoji: str
    user_text: str | None
    assistant_text: str


@dataclass(frozen=True, slots=True)
class PromptSample:
    """A sample ready for the prompt: sanitized, neutralized, capped. `user` is None when there is no user text."""

    user: str | None
    assistant: str


def _sanitize(text: str) -> str:
    """The project's PII sanitizer (typed placeholders such as `[EMAIL]`; its own size cap)."""
    return sanitize(text).text


# Characters removed outright: C0/C1 controls (whitespace handled separately), bidi embeddings/overrides/isolates,
# zero-width and joiner characters, BOM, variation selectors, tag characters.
_INVISIBLE: Final = re.compile(
    "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\ufeff\ufe00-\ufe0f\ufff9-\ufffb\U000e0000-\U000e007f]"
)
_WHITESPACE: Final = re.compile(r"\s+")
_SAMPLE_HEADER: Final = re.compile(r"\[\s*sample\b[^\]]{0,20}\]", re.IGNORECASE)
_ROLE_MARKER: Final = re.compile(r"\b(user|assistant|system|human|ai|samples)\s*:", re.IGNORECASE)
_SPECIAL_TOKEN: Final = re.compile(r"<\s*\|[^|>]{0,40}\|\s*>|</?s>|\[/?INST\]|<<\s*/?\s*SYS\s*>>", re.IGNORECASE)


def select_samples(
    rows: Sequence[JournalSample], source_model: str, canonical: str, k: int = MAX_SAMPLES
) -> list[JournalSample]:
    """Choose at most `k` rows for a cell, deterministically (spec section 4), as the `llmoji` tool does.

    Rows are put in journal order (`row_id`, the insertion order) first, so the choice does not depend on how the
    caller fetched them. A cell with at most `k` rows uses all of them in that order; a bigger one draws
    `random.Random(seed).sample(rows, k)` with the seed string `0:{source_model}:{canonical}` (string seeds hash
    with SHA-512: stable across runs and platforms).
    """
    ordered = sorted(rows, key=lambda row: row.row_id)
    if len(ordered) <= k:
        return ordered
    return random.Random(f"0:{source_model}:{canonical}").sample(ordered, k)


def _mask_face(text: str, faces: Sequence[str]) -> str:
    for face in sorted({f for f in faces if f}, key=len, reverse=True):
        text = text.replace(face, FACE_TOKEN)
    return text


def normalize(text: str) -> str:
    """Step 4 of the module docstring, without the second sanitizer pass: NFKC, invisibles out, one line."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return _WHITESPACE.sub(" ", text).strip()


def neutralize(text: str) -> str:
    """Make untrusted text safe to embed on one prompt line (steps 4 and 5 of the module docstring, no sanitizer)."""
    text = normalize(text)
    text = _SPECIAL_TOKEN.sub(" ", text)
    text = _SAMPLE_HEADER.sub(lambda m: "(" + m.group(0)[1:-1].strip() + ")", text)
    text = _ROLE_MARKER.sub(lambda m: m.group(1) + " -", text)
    return _WHITESPACE.sub(" ", text).strip()


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ELLIPSIS))].rstrip() + ELLIPSIS


def prepare_text(text: str, faces: Sequence[str], limit: int) -> str:
    """Steps 1-6 of the module docstring for one field."""
    raw = text[: limit * RAW_SCAN_FACTOR]
    sanitized = _sanitize(normalize(_sanitize(_mask_face(raw, faces))))
    return _cap(neutralize(sanitized), limit)


def prepare_sample(row: JournalSample, canonical: str) -> PromptSample:
    """Turn a journal row into a prompt sample (the `User:` line is left out when there is no user text)."""
    faces = (row.kaomoji, canonical)
    user = prepare_text(row.user_text, faces, MAX_USER_CHARS) if row.user_text else ""
    assistant = prepare_text(row.assistant_text, faces, MAX_ASSISTANT_CHARS)
    return PromptSample(user=user or None, assistant=assistant)


def content_free(samples: Sequence[PromptSample], filler: str) -> list[PromptSample]:
    """The same prompt shape with every text replaced by `filler`: a calibration baseline for scoring."""
    return [PromptSample(user=None if s.user is None else filler, assistant=filler) for s in samples]


def render_samples(samples: Sequence[PromptSample]) -> str:
    """The `Samples:` body. Samples are separated by a blank line; the `User:` line is left out without user text."""
    blocks = []
    for index, sample in enumerate(samples, start=1):
        lines = [f"[Sample {index}]"]
        if sample.user is not None:
            lines.append(f"User: {sample.user}")
        lines.append(f"Assistant: {FACE_TOKEN} {sample.assistant}".rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


MAX_FACE_CHARS: Final = 40
FACE_HEADER: Final = "A kaomoji is shown below; in what follows it is called [FACE].\n\nKaomoji: "


def face_prompt(face: str) -> str:
    """A prompt holding only the face's own look (no samples): the face-appearance evidence for scoring.

    The face is journal text too, so it is neutralized and capped like a sample (it never reaches the output:
    scoring only ranks lexicon words). An empty face gives the content-free baseline of this prompt shape.
    """
    return FACE_HEADER + _cap(neutralize(face), MAX_FACE_CHARS)


def render_prompt(samples: Sequence[PromptSample]) -> str:
    """The spec's prompt text for one cell (header + samples), without any method-specific instruction."""
    if not samples:
        raise ValueError("a synthesis prompt needs at least one sample")
    if len(samples) > MAX_SAMPLES:
        raise ValueError(f"a synthesis prompt takes at most {MAX_SAMPLES} samples")
    return PROMPT_HEADER + render_samples(samples)
