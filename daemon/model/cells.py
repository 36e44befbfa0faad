"""Reading the journal for synthesis: which cells exist, and the chosen sample rows of one cell.

A cell is (source model, canonical face): the journal's plaintext `model` and `canonical` columns. Listing cells
touches no sealed column; only the at most 4 rows `prompt.select_samples` picks for a cell are opened, so a run
decrypts 4 values per cell whatever the journal's size.

Resource handling: the functions here run inside `Store.read` (a reader thread); they own no connection. Opened
text lives only in the returned `JournalSample`s, which the caller turns into prompt samples and drops.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from llmojid.daemon.model.prompt import MAX_SAMPLES, JournalSample, select_samples
from llmojid.daemon.store import Store

TABLE = "journal"


@dataclass(frozen=True, slots=True)
class Cell:
    """One (source model, canonical face) cell: its journal row ids in journal order, and its row count."""

    source_model: str
    canonical: str
    row_ids: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.row_ids)

    @property
    def sample_count(self) -> int:
        return min(MAX_SAMPLES, len(self.row_ids))


def list_cells(conn: sqlite3.Connection) -> list[Cell]:
    """Every cell with a non-empty canonical face, most-used first, then by source model and face.

    Most-used first so that `analyze --limit N` does the N cells that matter most to a bundle.
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for row_id, model, canonical in conn.execute(
        "SELECT id, model, canonical FROM journal WHERE canonical != '' ORDER BY id"
    ):
        groups.setdefault((model, canonical), []).append(int(row_id))
    cells = [Cell(model, canonical, tuple(ids)) for (model, canonical), ids in groups.items()]
    cells.sort(key=lambda c: (-c.count, c.source_model, c.canonical))
    return cells


def cell_rows(store: Store, conn: sqlite3.Connection, cell: Cell) -> list[JournalSample]:
    """The cell's chosen sample rows (spec section 4), opened. Rows deleted since listing are skipped."""
    ids = [JournalSample(row_id=i, kaomoji="", user_text=None, assistant_text="") for i in cell.row_ids]
    chosen = [sample.row_id for sample in select_samples(ids, cell.source_model, cell.canonical)]
    out: list[JournalSample] = []
    for row_id in chosen:
        found = conn.execute(
            "SELECT kaomoji, user_text, assistant_text FROM journal WHERE id = ?", (row_id,)
        ).fetchone()
        if found is None:
            continue
        kaomoji, user_blob, assistant_blob = found
        out.append(
            JournalSample(
                row_id=row_id,
                kaomoji=str(kaomoji),
                user_text=store.open_text(user_blob, table=TABLE, column="user_text", row_id=row_id) or None,
                assistant_text=store.open_text(assistant_blob, table=TABLE, column="assistant_text", row_id=row_id),
            )
        )
    return out
