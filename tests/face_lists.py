"""The public face lists and prose openers the taxonomy is measured on (``tests/test_taxonomy_differential.py``,
``bench/taxonomy.py``).

Faces: the ``kaomoji-dataset`` package (PyPI, CC-BY-4.0, fontvibe.ai), tiers ``mixed``, ``verbose`` and
``extended`` only. Its ``core`` tier is kept aside for an independent evaluation: entries of that tier are
dropped as they are read, never looked at. The dataset's entries are often scenes (a face and a sound word, several
faces, Japanese text with a face inside); the lists keep the *face-led* ones, judged by character classes alone,
the same for every detector: at most 32 characters, not led by whitespace or an ASCII letter or digit, an opening
bracket (Unicode category ``Ps``) among the first three characters and no two letters in a row before it.

Split: a salted SHA-256 of the face sends each one to ``dev`` (tuned on) or ``test`` (measured, never tuned on),
half and half. Openers: ``tests/data/faces/negatives.jsonl`` is the dev list, ``negatives_holdout.jsonl`` the
test list (held out when it was written, and never tuned on here).
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import unicodedata
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Final, Literal

Split = Literal["dev", "test"]
FACE_DIR: Final = Path(__file__).parent / "data" / "faces"
#: Tiers of kaomoji-dataset this project may read; ``core`` is deliberately absent.
TIERS: Final = frozenset({"mixed", "verbose", "extended"})
SPLIT_SALT: Final = b"llmojid-taxonomy-split-1\x00"
#: Messages a face is put in, taken in turn (as the original corpus bench did).
TEMPLATES: Final = ("{f} Done! The tests pass now.", "{f}\n\nI found the bug.", "  {f} Sure, here it is.", "{f}")


def split_of(face: str) -> Split:
    return "dev" if hashlib.sha256(SPLIT_SALT + face.encode("utf-8", "surrogatepass")).digest()[0] < 128 else "test"


def face_led(entry: str) -> bool:
    """Does the dataset entry start with a face (the selection above)?"""
    if not entry or len(entry) > 32 or entry[0].isspace() or (entry[0].isascii() and entry[0].isalnum()):
        return False
    k = next((i for i, c in enumerate(entry[:3]) if unicodedata.category(c) == "Ps"), -1)
    if k < 0:
        return False
    letters = [unicodedata.category(c).startswith("L") for c in entry[:k]]
    return not any(a and b for a, b in itertools.pairwise(letters))


@lru_cache(maxsize=1)
def _dataset_faces() -> tuple[str, ...]:
    data = resources.files("kaomoji_dataset") / "data" / "kaomoji.jsonl.gz"
    out: dict[str, None] = {}
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            entry = json.loads(line)
            if entry.get("tier") in TIERS and face_led(entry["text"]):
                out[entry["text"]] = None
    return tuple(out)


def faces(split: Split) -> list[str]:
    """The face-led entries of the allowed tiers in one split, in dataset order, without repeats."""
    return [f for f in _dataset_faces() if split_of(f) == split]


def messages(face_list: list[str]) -> list[tuple[str, str]]:
    """(face, message) pairs, the templates taken in turn."""
    return [(f, TEMPLATES[i % len(TEMPLATES)].format(f=f)) for i, f in enumerate(face_list)]


def openers(split: Split) -> list[tuple[str, str]]:
    """(kind, text) prose openers of one split."""
    name = "negatives.jsonl" if split == "dev" else "negatives_holdout.jsonl"
    rows = [json.loads(line) for line in (FACE_DIR / name).read_text(encoding="utf-8").splitlines() if line]
    return [(row["kind"], row["text"]) for row in rows]
