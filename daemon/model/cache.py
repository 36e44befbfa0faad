"""The per-cell synthesis cache: one sealed bag per (synthesis model, backend, method, lexicon, source model, face).

Why a cache: synthesis is the slow part of `analyze`; re-running it must be free and an interrupted run must
resume where it stopped. A row answers for one cell *and one set of samples*: `samples_key` is an HMAC (the
store's index key) over the prepared prompt samples and whatever else changes the answer (model file identity,
endpoint, prompt version), so a cell whose samples changed misses and is synthesized again, while a cell whose
samples did not is read back. Failed cells are never stored (a failure is never filled with a guess), so the
next run retries them.

Privacy: the bag is sealed (`synthesis` column, associated data binds the row id); the samples are represented
only by the keyed hash, never stored. Plaintext columns hold what the journal already holds in plaintext (source
model name, canonical face) plus the synthesis model's file name, which the bundle manifest names anyway.

Resource handling: the functions here run inside `Store.read` / `Store.write` (on the store's threads); they own
no connection.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import msgspec

from llmojid.common.lexicon import LEXICON_VERSION, Bag, LexiconError, validate_bag_json
from llmojid.daemon.keys import KeyringUnavailableError
from llmojid.daemon.model.prompt import PromptSample
from llmojid.daemon.seal import SealError
from llmojid.daemon.store import Store, utc_now

TABLE: Final = "synthesis_cache"
SEALED: Final = "synthesis"
#: Bump when the prompt text or a method's algorithm changes what a cell's answer would be.
PROMPT_VERSION: Final = "llmojid-synthesis-1"


@dataclass(frozen=True, slots=True)
class CellKey:
    """Which answer a row holds. `fingerprint` is what identifies the synthesizer beyond its name (file size,
    endpoint URL); it goes only into the keyed hash."""

    synthesis_model: str
    backend: str
    method: str
    source_model: str
    canonical: str
    fingerprint: str = ""


def samples_digest(samples: Sequence[PromptSample]) -> str:
    """A digest of the prepared samples, length-prefixed so no two sample lists share one. Never stored bare."""
    h = hashlib.sha256()
    for sample in samples:
        for part in ("-" if sample.user is None else "u" + sample.user, "a" + sample.assistant):
            data = part.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
    return h.hexdigest()


def samples_key(store: Store, key: CellKey, samples: Sequence[PromptSample]) -> bytes:
    """The keyed hash a cached row must match to answer for these samples."""
    return store.dedup_key(
        PROMPT_VERSION,
        str(LEXICON_VERSION),
        key.synthesis_model,
        key.backend,
        key.method,
        key.fingerprint,
        key.source_model,
        key.canonical,
        samples_digest(samples),
    )


def lookup(store: Store, conn: sqlite3.Connection, key: CellKey, wanted: bytes) -> Bag | None:
    """The cached bag for `key` if it was made from the same samples (`wanted`), else None.

    A row that does not open or no longer validates (another key, a damaged value) counts as a miss: the cell is
    synthesized again and the row replaced.
    """
    row = conn.execute(
        "SELECT id, samples_key, synthesis FROM synthesis_cache WHERE synthesis_model = ? AND backend = ?"
        " AND method = ? AND lexicon_version = ? AND source_model = ? AND canonical = ?",
        (key.synthesis_model, key.backend, key.method, LEXICON_VERSION, key.source_model, key.canonical),
    ).fetchone()
    if row is None or row[1] != wanted or row[2] is None:
        return None
    try:
        data = store.open_bytes(row[2], table=TABLE, column=SEALED, row_id=int(row[0]))
        return validate_bag_json(data)
    except (LexiconError, SealError, KeyringUnavailableError):
        return None


def store_bag(store: Store, conn: sqlite3.Connection, key: CellKey, wanted: bytes, sample_count: int, bag: Bag) -> int:
    """Insert or replace the cell's row (inside the caller's write transaction); returns its id."""
    found = conn.execute(
        "SELECT id FROM synthesis_cache WHERE synthesis_model = ? AND backend = ? AND method = ?"
        " AND lexicon_version = ? AND source_model = ? AND canonical = ?",
        (key.synthesis_model, key.backend, key.method, LEXICON_VERSION, key.source_model, key.canonical),
    ).fetchone()
    now = utc_now()
    if found is None:
        row_id = int(
            conn.execute(
                "INSERT INTO synthesis_cache (synthesis_model, backend, method, lexicon_version, source_model,"
                " canonical, samples_key, sample_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    key.synthesis_model,
                    key.backend,
                    key.method,
                    LEXICON_VERSION,
                    key.source_model,
                    key.canonical,
                    wanted,
                    sample_count,
                    now,
                ),
            ).fetchone()[0]
        )
    else:
        row_id = int(found[0])
        conn.execute(
            "UPDATE synthesis_cache SET samples_key = ?, sample_count = ?, created_at = ? WHERE id = ?",
            (wanted, sample_count, now, row_id),
        )
    sealed = store.seal_bytes(msgspec.json.encode(bag.to_dict()), table=TABLE, column=SEALED, row_id=row_id)
    conn.execute("UPDATE synthesis_cache SET synthesis = ? WHERE id = ?", (sealed, row_id))
    return row_id


@dataclass(frozen=True, slots=True)
class CachedCell:
    """One cache row, opened: what the bundle builder and the report need."""

    synthesis_model: str
    backend: str
    method: str
    source_model: str
    canonical: str
    sample_count: int
    bag: Bag


def read_all(store: Store, conn: sqlite3.Connection) -> Iterable[CachedCell]:
    """Every cache row that opens and validates (for the bundle builder: `store.read(lambda c: list(...))`)."""
    for row_id, synth, backend, method, source, canonical, count, blob in conn.execute(
        "SELECT id, synthesis_model, backend, method, source_model, canonical, sample_count, synthesis"
        " FROM synthesis_cache WHERE lexicon_version = ? AND synthesis IS NOT NULL ORDER BY source_model, canonical",
        (LEXICON_VERSION,),
    ):
        try:
            bag = validate_bag_json(store.open_bytes(blob, table=TABLE, column=SEALED, row_id=int(row_id)))
        except (LexiconError, SealError, KeyringUnavailableError):
            continue
        yield CachedCell(synth, backend, method, source, canonical, int(count), bag)
