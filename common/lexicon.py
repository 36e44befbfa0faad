"""Lexicon v2: the locked vocabulary a synthesis answers in (spec section 4).

Pure: no I/O. This is the only definition of the vocabulary; the synthesis, the bundle builder and the
auditor all read it from here, so a bundle this project writes pools with the `llmoji` corpus.

A synthesis answer ("bag") is `{"primary_affect": [1-3 distinct primary words],
"stance_modality_function": [3-5 distinct stance words]}` and nothing else. `validate_bag` is the one gate every
model answer passes; its errors name the rule broken, never the offending text (a model answer may echo journal
text, and errors end up in logs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

LEXICON_VERSION: Final = 2

# The circumplex cells, in spec order. Codes: H/L/N = high/low/neutral arousal, P/N/B = positive/negative/blank
# valence, -D/-S = dominant/submissive where the spec splits a cell.
CELLS: Final[dict[str, tuple[str, ...]]] = {
    "HP-D": ("playful", "sly", "smug"),
    "HP-S": ("cheery", "excited", "triumphant"),
    "LP": ("peaceful", "tender", "hopeful"),
    "NP": ("satisfied", "relieved", "grateful"),
    "HN-D": ("indignant", "frustrated", "contemptuous"),
    "HN-S": ("anxious", "alarmed", "overwhelmed"),
    "LN": ("sad", "weary", "hollow"),
    "NB": ("neutral", "detached"),
    "HB": ("confused", "uncertain", "skeptical"),
}

PRIMARY_WORDS: Final[tuple[str, ...]] = tuple(word for words in CELLS.values() for word in words)

STANCE_WORDS: Final[tuple[str, ...]] = (
    "focused", "considering", "self-correcting", "curious", "surprised", "embarrassed", "awkward", "flustered",
    "helpful", "compassionate", "deferential", "eager", "vulnerable", "performative", "restrained", "proud",
    "wry", "dramatic", "quirky", "serious", "desperate", "confident", "apologetic", "cautious",
)  # fmt: skip

CELL_OF_WORD: Final[dict[str, str]] = {word: cell for cell, words in CELLS.items() for word in words}

PRIMARY_KEY: Final = "primary_affect"
STANCE_KEY: Final = "stance_modality_function"
PRIMARY_COUNT: Final = (1, 3)  # inclusive bounds
STANCE_COUNT: Final = (3, 5)

_PRIMARY_SET: Final = frozenset(PRIMARY_WORDS)
_STANCE_SET: Final = frozenset(STANCE_WORDS)


class LexiconError(ValueError):
    """A synthesis answer breaks the lexicon rules. The message names the rule, never the answer's text."""


class Bag(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A validated synthesis answer. Build one only through `validate_bag`."""

    primary_affect: tuple[str, ...]
    stance_modality_function: tuple[str, ...]

    def to_dict(self) -> dict[str, list[str]]:
        """The JSON shape of the spec (lists, key order as the spec writes it)."""
        return {PRIMARY_KEY: list(self.primary_affect), STANCE_KEY: list(self.stance_modality_function)}


def _check_words(value: Any, key: str, allowed: frozenset[str], bounds: tuple[int, int]) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise LexiconError(f"{key} must be a list of words")
    if not all(isinstance(word, str) for word in value):
        raise LexiconError(f"{key} must hold only strings")
    lo, hi = bounds
    if not lo <= len(value) <= hi:
        raise LexiconError(f"{key} must hold {lo}-{hi} words, got {len(value)}")
    if len(set(value)) != len(value):
        raise LexiconError(f"{key} repeats a word")
    if not all(word in allowed for word in value):
        raise LexiconError(f"{key} holds a word outside lexicon v{LEXICON_VERSION} for that key")
    return tuple(value)


def validate_bag(obj: object) -> Bag:
    """Check a decoded answer (a mapping, e.g. parsed JSON) against lexicon v2 and return it as a `Bag`.

    Raises:
        LexiconError: not a mapping, a missing or extra key, a wrong count, a repeated word, or a word outside
            the lexicon (a primary word under the stance key counts as outside).
    """
    if isinstance(obj, Bag):
        obj = obj.to_dict()
    if not isinstance(obj, Mapping):
        raise LexiconError("a bag must be an object")
    keys = set(obj.keys())
    expected = {PRIMARY_KEY, STANCE_KEY}
    if keys != expected:
        missing, extra = len(expected - keys), len(keys - expected)
        raise LexiconError(f"a bag must have exactly the two lexicon keys ({missing} missing, {extra} extra)")
    primary = _check_words(obj[PRIMARY_KEY], PRIMARY_KEY, _PRIMARY_SET, PRIMARY_COUNT)
    stance = _check_words(obj[STANCE_KEY], STANCE_KEY, _STANCE_SET, STANCE_COUNT)
    return Bag(primary_affect=primary, stance_modality_function=stance)


def validate_bag_json(data: bytes | str) -> Bag:
    """Decode a JSON answer and validate it; malformed JSON is a `LexiconError` too (never echoed)."""
    try:
        obj = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise LexiconError("a bag must be valid JSON") from exc
    return validate_bag(obj)
