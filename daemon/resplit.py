"""Re-split journal rows written under older face rules (schema migration 5, issue 13).

Migration 5 only marks the journal as pending (``meta`` key ``resplit_after`` = 0); this module does the work when
the store opens, because it needs the keys: each row's sealed ``assistant_text`` is opened, the message is put back
together from the stored face and text, split again with ``taxonomy.leading_face``, and the row is rewritten when
its face or canonical key changed (its text resealed under its own row id). Synthesis-cache cells of every key that
lost or gained rows are dropped, so counts, caches and bundles all use the new keys.

Resumable and idempotent: rows are done in id order, a batch a transaction, and the batch's last id is committed
with it; a crash resumes after the last committed batch, and re-splitting a re-split row changes nothing. When done
the marker is removed and the counts are left in ``meta`` (``resplit_rows``, ``resplit_face_changed``, ...: one
integer a key, never a face or a text).

The whitespace between the face and the text was not stored: the message is rebuilt with one space, or with none
when the text starts with a glyph that llmoji's rules would have glued to the face (``(>_<)ゞ``). A face followed by
a line break is then read as followed by a space, which can only differ when the next line starts with decoration.
"""

from __future__ import annotations

import logging
import sqlite3
import string
import unicodedata
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Final

from llmojid.common.taxonomy import canonicalize, leading_face

if TYPE_CHECKING:
    from llmojid.daemon.store import Store

log = logging.getLogger("llmojid.resplit")

PENDING_KEY: Final = "resplit_after"
#: Prefix of the report's keys in ``meta``: ``resplit_`` + a field of ``ResplitReport``.
REPORT_PREFIX: Final = "resplit_"
BATCH: Final = 256
_TABLE: Final = "journal"
_BODY_PUNCT: Final = frozenset(string.punctuation + "—–…“”‘’«»")


@dataclass
class ResplitReport:
    rows: int = 0
    face_changed: int = 0  # a different span: face, canonical and text rewritten
    canonical_changed: int = 0  # the same span under a new canonical key
    kept_not_face_led: int = 0  # the new rules take no face here: the row is kept, its key recomputed
    cache_cells_dropped: int = 0


def rebuild_message(face: str, text: str) -> str:
    """The message as it most likely was: face, then one space unless the text's first glyph was glued to it."""
    if not text:
        return face
    first = text[0]
    glued = (
        not first.isascii()
        and not first.isspace()
        and first not in _BODY_PUNCT
        and not (len(text) > 1 and all(unicodedata.category(c).startswith("L") for c in text[:2]))
    )
    return face + ("" if glued else " ") + text


def pending(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (PENDING_KEY,)).fetchone()
    return None if row is None else int(row[0])


def run_pending(store: Store, conn: sqlite3.Connection) -> ResplitReport | None:
    """Finish a pending re-split on ``conn`` (the writer, before serving); None when nothing was pending."""
    after = pending(conn)
    if after is None:
        return None
    report = _load_partial(conn) if after > 0 else ResplitReport()
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute(
                "SELECT id, model, kaomoji, canonical, assistant_text FROM journal WHERE id > ? ORDER BY id LIMIT ?",
                (after, BATCH),
            ).fetchall()
            touched: set[tuple[str, str]] = set()
            for row_id, model, face, canonical, sealed in rows:
                _resplit_row(store, conn, report, touched, row_id, model, face, canonical, sealed)
            for cell in touched:
                cur = conn.execute("DELETE FROM synthesis_cache WHERE source_model = ? AND canonical = ?", cell)
                report.cache_cells_dropped += cur.rowcount
            report.rows += len(rows)
            if rows:
                after = int(rows[-1][0])
                conn.execute("UPDATE meta SET value = ? WHERE key = ?", (str(after), PENDING_KEY))
                _save(conn, report)
            else:
                conn.execute("DELETE FROM meta WHERE key = ?", (PENDING_KEY,))
                if report.rows:
                    _save(conn, report)  # an empty journal (a new install) has nothing to report
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if not rows:
            break
    log.info(
        "journal re-split under the new face rules: %d rows, %d new faces, %d new keys",
        report.rows,
        report.face_changed,
        report.canonical_changed,
    )
    return report


def _resplit_row(
    store: Store,
    conn: sqlite3.Connection,
    report: ResplitReport,
    touched: set[tuple[str, str]],
    row_id: int,
    model: str,
    face: str,
    canonical: str,
    sealed: bytes | None,
) -> None:
    text = store.open_text(sealed, table=_TABLE, column="assistant_text", row_id=row_id)
    found = leading_face(rebuild_message(face, text))
    if found is None:
        new_canonical = canonicalize(face)
        if new_canonical != canonical:
            conn.execute("UPDATE journal SET canonical = ? WHERE id = ?", (new_canonical, row_id))
            touched |= {(model, canonical), (model, new_canonical)}
        report.kept_not_face_led += 1
        return
    new_face, new_text = found
    new_canonical = canonicalize(new_face)
    if new_face != face:
        resealed = store.seal_text(new_text, table=_TABLE, column="assistant_text", row_id=row_id)
        conn.execute(
            "UPDATE journal SET kaomoji = ?, canonical = ?, assistant_text = ? WHERE id = ?",
            (new_face, new_canonical, resealed, row_id),
        )
        report.face_changed += 1
    elif new_canonical != canonical:
        conn.execute("UPDATE journal SET canonical = ? WHERE id = ?", (new_canonical, row_id))
        report.canonical_changed += 1
    else:
        return
    touched |= {(model, canonical), (model, new_canonical)}


def _load_partial(conn: sqlite3.Connection) -> ResplitReport:
    report = ResplitReport()
    for name in asdict(report):
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (REPORT_PREFIX + name,)).fetchone()
        if row is not None and str(row[0]).isdigit():
            setattr(report, name, int(row[0]))
    return report


def load_report(conn: sqlite3.Connection) -> ResplitReport | None:
    """The counts of the last re-split, or None when there was none."""
    if conn.execute("SELECT 1 FROM meta WHERE key = ?", (REPORT_PREFIX + "rows",)).fetchone() is None:
        return None
    return _load_partial(conn)


def _save(conn: sqlite3.Connection, report: ResplitReport) -> None:
    for name, value in asdict(report).items():
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (REPORT_PREFIX + name, str(value)),
        )
