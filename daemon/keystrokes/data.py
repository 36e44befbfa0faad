"""Readers for the two keystroke datasets (training and evaluation only; the daemon never calls these).

- Aalto "136M Keystrokes" desktop files ``<id>_keystrokes.txt`` (tab-separated, one row per key, press and
  release epoch ms, JavaScript keyCode), read from a folder or straight from the training tar.gz.
- CMU DSL-StrongPasswordData.csv (Killourhy & Maxion 2009): H / DD / UD features per repetition of
  ``.tie5Roanl`` + Return, turned back into key events.

Only timing and key class survive parsing: the sentence and typed-text columns are dropped row by row.
The user-disjoint split rule lives here (:func:`aalto_split`) so training, evaluation and tests agree.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from llmojid.daemon.keystrokes.features import KeyClass, KeyEvent, aalto_key_class

AALTO_FIELDS = 9
_COL_SECTION, _COL_PRESS, _COL_RELEASE, _COL_KEYCODE = 1, 5, 6, 8
_SUFFIX = "_keystrokes.txt"

#: The split rule: a participant is held out for evaluation when the first byte of
#: sha256(SPLIT_SALT + id) falls in the lowest EVAL_PERCENT of 0..255; the next DEV_PERCENT are a
#: development split (tuning during training). A hash rather than a shuffled list keeps the rule valid for
#: any subset of ids, is reproducible without a seed, and never depends on which files are present.
SPLIT_SALT = "llmojid-keystrokes-split-v1:"
EVAL_PERCENT = 20
DEV_PERCENT = 10


def aalto_split(participant_id: int) -> str:
    """'eval' (held out, ~20%), 'dev' (~10%) or 'train' (~70%) for an Aalto participant id."""
    byte = hashlib.sha256(f"{SPLIT_SALT}{participant_id}".encode()).digest()[0]
    if byte < 256 * EVAL_PERCENT // 100:
        return "eval"
    if byte < 256 * (EVAL_PERCENT + DEV_PERCENT) // 100:
        return "dev"
    return "train"


def parse_aalto_text(text: str) -> list[list[KeyEvent]]:
    """One participant's file -> one event list per sentence (TEST_SECTION_ID), in typing order.

    Bad rows are skipped as the dataset's SOURCE.md says: wrong field count, non-integer timestamps,
    release before press. Modifier keys are dropped (see features.aalto_key_class). Rows are sorted by
    press time within a sentence because the file is ordered by key id, not always by time.
    """
    sections: dict[str, list[tuple[int, int, int]]] = {}
    for line in text.splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) != AALTO_FIELDS:
            continue
        press_s, release_s, code_s = parts[_COL_PRESS], parts[_COL_RELEASE], parts[_COL_KEYCODE]
        if not (press_s.isdigit() and release_s.isdigit() and code_s.strip().isdigit()):
            continue
        press, release = int(press_s), int(release_s)
        if release < press:
            continue
        cls = aalto_key_class(int(code_s))
        if cls is None:
            continue
        sections.setdefault(parts[_COL_SECTION], []).append((press, release, int(cls)))
    sentences: list[list[KeyEvent]] = []
    for rows in sections.values():
        rows.sort(key=lambda r: r[0])
        t0 = rows[0][0]
        sentences.append([KeyEvent(float(p - t0), float(r - t0), c) for p, r, c in rows])
    return sentences


def _participant_id(name: str) -> int | None:
    base = Path(name).name
    if not base.endswith(_SUFFIX):
        return None
    stem = base[: -len(_SUFFIX)]
    return int(stem) if stem.isdigit() else None


def iter_aalto_tar(tar_path: Path) -> Iterator[tuple[int, str]]:
    """(participant id, file text) for every ``<id>_keystrokes.txt`` member of the tar.gz."""
    with tarfile.open(tar_path, "r:gz") as tar:
        for member in tar:
            pid = _participant_id(member.name)
            if pid is None or not member.isfile():
                continue
            fh = tar.extractfile(member)
            if fh is None:
                continue
            yield pid, fh.read().decode("utf-8", errors="replace")


def iter_aalto_dir(directory: Path) -> Iterator[tuple[int, str]]:
    """(participant id, file text) for every ``<id>_keystrokes.txt`` in a folder, sorted by id."""
    found = [(pid, p) for p in directory.iterdir() if (pid := _participant_id(p.name)) is not None]
    for pid, path in sorted(found):
        yield pid, path.read_text(encoding="utf-8", errors="replace")


def load_aalto(
    source: Iterable[tuple[int, str]], splits: frozenset[str] | None = None
) -> dict[int, list[list[KeyEvent]]]:
    """Parse participants (optionally only those whose split is in ``splits``) -> sentences."""
    users: dict[int, list[list[KeyEvent]]] = {}
    for pid, text in source:
        if splits is not None and aalto_split(pid) not in splits:
            continue
        sentences = parse_aalto_text(text)
        if sentences:
            users[pid] = sentences
    return users


def extract_aalto_split(tar_path: Path, out_dir: Path, split: str = "eval", limit: int | None = None) -> list[Path]:
    """Write the ``split`` participants' files from the tar into ``out_dir`` (for the evaluation CLI).

    Only files whose participant id falls in the split are written, with plain names (no member paths),
    so a crafted archive cannot write outside ``out_dir``. ``limit`` keeps the first N ids (tests).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for pid, text in iter_aalto_tar(tar_path):
        if aalto_split(pid) != split:
            continue
        path = out_dir / f"{pid}{_SUFFIX}"
        path.write_text(text, encoding="utf-8")
        written.append(path)
        if limit is not None and len(written) >= limit:
            break
    return written


# --- CMU --------------------------------------------------------------------------------------------
CMU_KEYS = ("period", "t", "i", "e", "five", "Shift.r", "o", "a", "n", "l", "Return")


@dataclass(frozen=True, slots=True)
class CmuData:
    """The CMU benchmark as arrays: subject label, session, rep, and the 31 timing features (seconds)."""

    subjects: list[str]
    session: npt.NDArray[np.int64]
    rep: npt.NDArray[np.int64]
    features: npt.NDArray[np.float64]  # (N, 31) in file column order
    columns: list[str]


def load_cmu(csv_path: Path) -> CmuData:
    """Read DSL-StrongPasswordData.csv (CRLF or LF line endings)."""
    lines = csv_path.read_text(encoding="ascii").splitlines()
    header = lines[0].split(",")
    rows = [ln.split(",") for ln in lines[1:] if ln.strip()]
    return CmuData(
        subjects=[r[0] for r in rows],
        session=np.array([int(r[1]) for r in rows], dtype=np.int64),
        rep=np.array([int(r[2]) for r in rows], dtype=np.int64),
        features=np.array([[float(v) for v in r[3:]] for r in rows], dtype=np.float64),
        columns=header[3:],
    )


def cmu_events(data: CmuData, row: int) -> list[KeyEvent]:
    """One CMU repetition as key events: press times from the DD cumulative sum, release = press + H.

    Times are converted to ms. The shifted R is one event (CHAR), Return is ENTER.
    """
    col = {name: i for i, name in enumerate(data.columns)}
    values = data.features[row]
    press = 0.0
    events: list[KeyEvent] = []
    for k, key in enumerate(CMU_KEYS):
        hold = values[col[f"H.{key}"]] * 1000.0
        cls = KeyClass.ENTER if key == "Return" else KeyClass.CHAR
        events.append(KeyEvent(float(press), float(press + hold), int(cls)))
        if k + 1 < len(CMU_KEYS):
            press += float(values[col[f"DD.{key}.{CMU_KEYS[k + 1]}"]]) * 1000.0
    return events
