"""Key rotation: re-seal every sealed value under a new data key, in resumable batches, then delete the old key.

Why it is safe to stop at any instant (``kill -9`` included): every sealed value names the key that opens it
(``llmojid.daemon.seal``), and no key is deleted while any value still names it. The steps:

1. Create the new key in the keyring, then record ``{"to": new, "from": [old]}`` in ``meta`` (committed).
   A crash between the two leaves an unused key in the keyring that seals nothing; the journal is untouched.
2. Make the new key the active one: from here every new value is sealed under it.
3. Re-seal, one batch per transaction: select values whose key id (bytes 2-5, read by SQL without opening) is not
   the new one, open each with the key it names, seal it under the new key with the same table, column and row
   id, and update it. A batch commits whole or not at all, so each value is under the old or the new key, and
   both are in the keyring.
4. Check, in one transaction on the writer, that no value names any other key; only then delete the old keys
   (the recorded ones and any other key a value named) and clear the record.

Resuming: at start (``PrivacyComponent.run``) and on ``keys rotate``, a record in ``meta`` means a rotation is
unfinished; it goes on from step 2 with the recorded key. Values already under it are not selected again.

A value that does not open (damaged, or under a key the keyring lost) stops the rotation before step 4: the old
keys are kept, the record stays, and the error says which place to audit or forget.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import trio

from llmojid.daemon.keys import KeyManager, KeyringUnavailableError
from llmojid.daemon.privacy.sealed import RowId, SealedColumn, key_counts, quote, sealed_columns, values_not_under
from llmojid.daemon.seal import SealError, key_id_of, open_sealed, seal
from llmojid.daemon.store import Store

log = logging.getLogger("llmojid.rotation")

META_KEY: Final = "key-rotation"
#: Values re-sealed per transaction: small enough that a batch holds the writer for milliseconds, so hooks
#: arriving during a rotation are not delayed; large enough that a big journal rotates in seconds.
BATCH: Final = 256
#: Keyring lookups tried before a failure counts (see ``keyring_holds``).
_LOOKUP_TRIES: Final = 4

Progress = Callable[[dict[str, object]], Awaitable[None]]


class RotationError(Exception):
    """The rotation cannot finish; the old keys were kept. Names places (table.column, row id), never values."""


@dataclass
class Plan:
    to: str
    old: list[str] = field(default_factory=list)

    def encode(self) -> str:
        return json.dumps({"to": self.to, "from": sorted(set(self.old))}, sort_keys=True)

    @classmethod
    def decode(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(to=str(data["to"]), old=[str(k) for k in data.get("from", [])])


def load_plan(conn: sqlite3.Connection) -> Plan | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    return Plan.decode(row[0]) if row else None


def _save_plan(conn: sqlite3.Connection, plan: Plan) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (META_KEY, plan.encode()),
    )


async def _quiet(_event: dict[str, object]) -> None:
    return None


async def rotate(store: Store, keys: KeyManager, progress: Progress = _quiet, batch: int = BATCH) -> dict[str, Any]:
    """Rotate (or finish an unfinished rotation). Returns a summary; raises RotationError when values do not open.

    The caller runs one rotation at a time (``PrivacyComponent`` holds a lock).
    """
    plan = await store.read(load_plan)
    resumed = plan is not None
    if plan is None:
        old = keys.active_id
        new = await trio.to_thread.run_sync(keys.create_data_key)
        plan = Plan(to=new, old=[old] if old else [])
        await store.write(lambda conn: _save_plan(conn, plan))
        log.info("key rotation started: new data key %s", new)
    else:
        log.info("resuming an unfinished key rotation to data key %s", plan.to)
    await trio.to_thread.run_sync(keys.set_active, plan.to)
    await progress({"event": "start", "to": plan.to, "from": sorted(plan.old), "resumed": resumed})

    counts = await store.read(key_counts)
    total = sum(n for k, n in counts.items() if k != plan.to)
    # Load every key a value names now, on this side (the writer thread then only reads the cache).
    missing: list[str] = []
    for key_id in sorted(counts):
        try:
            await trio.to_thread.run_sync(keys.data_key, key_id)
        except KeyringUnavailableError:
            missing.append(key_id)
    if missing:
        raise RotationError(
            f"values are sealed under key(s) {', '.join(missing)} that the keyring does not hold; they cannot be"
            " re-sealed. Run llmojid-ctl audit to see where, and forget them; the old keys were kept"
        )
    seen = set(counts) - {plan.to}
    done = 0
    failures: list[str] = []
    to_key = keys.data_key(plan.to)
    for sc in await store.read(sealed_columns):
        after: RowId | None = None
        while True:
            step = functools.partial(
                _reseal_batch, sc=sc, keys=keys, to=plan.to, to_key=to_key, after=after, batch=batch
            )
            n, after, bad = await store.write(step)
            failures += bad
            done += n
            if n:
                await progress({"event": "batch", "where": sc.where, "done": done, "total": total})
            if after is None:
                break
    if failures:
        shown = ", ".join(failures[:5]) + (", ..." if len(failures) > 5 else "")
        raise RotationError(
            f"{len(failures)} value(s) do not open ({shown}); the old keys were kept. Run llmojid-ctl audit, forget"
            " what cannot be opened, then run keys rotate again"
        )
    remaining = await store.write(lambda conn: {k: n for k, n in key_counts(conn).items() if k != plan.to})
    if remaining:
        raise RotationError("values are still sealed under an old key after the last batch; run keys rotate again")
    deleted = sorted((seen | set(plan.old)) - {plan.to})
    for key_id in deleted:
        await trio.to_thread.run_sync(keys.delete_data_key, key_id)
        await progress({"event": "deleted-key", "key": key_id})
    await store.write(lambda conn: conn.execute("DELETE FROM meta WHERE key = ?", (META_KEY,)))
    log.info("key rotation finished: %d values re-sealed under %s; %d old key(s) deleted", done, plan.to, len(deleted))
    return {"to": plan.to, "deleted": deleted, "resealed": done, "resumed": resumed}


def _reseal_batch(
    conn: sqlite3.Connection,
    *,
    sc: SealedColumn,
    keys: KeyManager,
    to: str,
    to_key: bytes,
    after: RowId | None,
    batch: int,
) -> tuple[int, RowId | None, list[str]]:
    """Re-seal up to ``batch`` values of ``sc`` after row id ``after`` (on the writer, inside its transaction).

    Returns (values re-sealed, the last row id looked at or None when the column is done, places that failed).
    """
    rows = values_not_under(conn, sc, to, after, batch)
    failures: list[str] = []
    resealed = 0
    key = quote(sc.key) if sc.key != "rowid" else "rowid"
    for row_id, value in rows:
        if not isinstance(value, bytes):
            failures.append(f"{sc.where} row {row_id}")
            continue
        try:
            plain = open_sealed(keys.data_key, value, table=sc.table, column=sc.column, row_id=row_id)
        except (SealError, KeyringUnavailableError):
            failures.append(f"{sc.where} row {row_id}")
            continue
        assert key_id_of(value) != to
        fresh = seal(to_key, to, plain, table=sc.table, column=sc.column, row_id=row_id)
        sql = f"UPDATE {quote(sc.table)} SET {quote(sc.column)} = ? WHERE {key} = ?"  # noqa: S608 - quoted names
        conn.execute(sql, (fresh, row_id))
        resealed += 1
    last = rows[-1][0] if len(rows) == batch else None
    return resealed, last, failures


def keyring_holds(keys: KeyManager, key_id: str) -> bool:
    """Whether the keyring itself still holds data key ``key_id`` (blocking).

    Not ``keys.data_key``: the manager keeps the keys it has loaded in memory, so a key deleted from the keyring
    behind its back would still look present, and the auditor and ``keys status`` must report the keyring as it
    is; ``KeyManager.holds_data_key`` asks the keyring itself.

    A lookup that races a delete of the same entry (the Secret Service finds the item, then it is gone before
    its secret is read) fails with an error rather than "absent"; it is asked again, and only a keyring that
    keeps failing is reported as unavailable.
    """
    for attempt in range(_LOOKUP_TRIES):
        try:
            return keys.holds_data_key(key_id)
        except KeyringUnavailableError:
            if attempt == _LOOKUP_TRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


async def status(store: Store, keys: KeyManager) -> dict[str, Any]:
    """``keys status``: the active key, the keys values name (and whether the keyring holds each), any rotation."""
    counts, plan = await store.read(lambda conn: (key_counts(conn), load_plan(conn)))
    ids = sorted(set(counts) | {keys.active_id} | (set(plan.old) | {plan.to} if plan else set()))
    listed = []
    for key_id in ids:
        present = await trio.to_thread.run_sync(keyring_holds, keys, key_id)
        listed.append(
            {"id": key_id, "values": counts.get(key_id, 0), "in_keyring": present, "active": key_id == keys.active_id}
        )
    return {
        "active": keys.active_id,
        "backend": keys.backend_name,
        "keys": listed,
        "rotation": {"to": plan.to, "from": sorted(plan.old)} if plan else None,
    }
