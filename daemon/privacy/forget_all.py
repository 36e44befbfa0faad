"""``forget --all`` in an order that every crash point survives, and finishing it at the next start.

The steps (``PrivacyComponent._forget_everything`` runs them; ``tests/test_store_keys.py`` kills the daemon before
each keyring delete):

1. ``begin``, one transaction: delete every row of every table (the store's id in ``meta`` stays: the keyring
   entries are named by it) and record the keyring entries to shred (``meta`` ``forget-all``). Before this
   commits nothing has changed; after it, the record says what is left to do.
2. ``finish``: vacuum (no bytes of the rows left in the file or the WAL), remove the spool and the bundle folder,
   then delete the recorded keyring entries one by one, ``active-key`` first (so a crash never leaves it naming a
   deleted data key) and the store's path record last, and then clear the record.

Why every crash point is accepted: a start that finds the record (``finish_unfinished``, in ``Store.open`` before
any key is loaded) deletes the rows again, deletes every recorded entry (one already gone is fine) and clears
the record; the daemon then clears the files (``clear_files``) before serving and makes new keys for the empty
store. A keyring that fails mid-way is the same case: the daemon stops, the next start finishes.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
from pathlib import Path

from llmojid.daemon import schema
from llmojid.daemon.keys import KeyManager
from llmojid.daemon.privacy import forget
from llmojid.daemon.privacy.bundle_folder import remove_folder
from llmojid.daemon.privacy.sealed import key_counts

log = logging.getLogger("llmojid.forget")


def begin(conn: sqlite3.Connection, keys: KeyManager) -> dict[str, int]:
    """Step 1 (inside the caller's write transaction): record the entries to shred, delete every row.

    The data keys recorded are those any value or an unfinished rotation names, and those the daemon has loaded;
    no keyring call is made, so this works while the keyring is away.
    """
    from llmojid.daemon.privacy.rotation import load_plan  # rotation imports the store, which imports this

    ids = set(key_counts(conn))
    plan = load_plan(conn)
    if plan is not None:
        ids |= {plan.to, *plan.old}
    return _delete_and_record(conn, keys.shred_entries(ids))


def _delete_and_record(conn: sqlite3.Connection, entries: list[str]) -> dict[str, int]:
    deleted = forget.delete_rows(conn, forget.Scope(everything=True))
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (schema.META_FORGET_ALL, json.dumps(entries)),
    )
    return deleted


def recorded(conn: sqlite3.Connection) -> list[str] | None:
    """The entries an unfinished ``forget --all`` recorded, or None when none is unfinished."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (schema.META_FORGET_ALL,)).fetchone()
    if row is None:
        return None
    entries = json.loads(row[0])
    return [str(e) for e in entries] if isinstance(entries, list) else []


def finish(database: Path, state_dir: Path, bundle_folder: Path, keys: KeyManager) -> tuple[int, bool]:
    """Step 2 (blocking): files, then keys one by one, then the record. Returns (spool files, bundle) removed."""
    forget.vacuum(database)
    spooled, bundle_removed = clear_files(state_dir, bundle_folder)
    conn = sqlite3.connect(database, isolation_level=None, timeout=forget.BUSY_TIMEOUT_SECONDS)
    try:
        entries = recorded(conn) or []
        keys.delete_entries(entries)
        conn.execute("DELETE FROM meta WHERE key = ?", (schema.META_FORGET_ALL,))
    finally:
        conn.close()
    return spooled, bundle_removed


def finish_unfinished(conn: sqlite3.Connection, keys: KeyManager) -> bool:
    """At start (``Store.open``, keys bound, none loaded): finish a ``forget --all`` a crash interrupted.

    Returns True when there was one; the caller then clears the files (``clear_files``) before serving.
    """
    entries = recorded(conn)
    if entries is None:
        return False
    log.info("finishing a forget --all that was interrupted: deleting the rows and the keys")
    conn.execute("BEGIN IMMEDIATE")
    try:
        _delete_and_record(conn, entries)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    keys.delete_entries(entries)
    conn.execute("DELETE FROM meta WHERE key = ?", (schema.META_FORGET_ALL,))
    return True


def clear_files(state_dir: Path, bundle_folder: Path) -> tuple[int, bool]:
    """The spool (its private key is about to be shredded) and the bundle folder. Returns what was removed."""
    return remove_spool(state_dir), remove_folder(bundle_folder)


def remove_spool(state_dir: Path) -> int:
    """Delete the spool's files and the spool public key (its private half is about to be shredded)."""
    removed = 0
    spool = state_dir / "spool"
    try:
        st = os.lstat(spool)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        for entry in os.listdir(spool):
            path = spool / entry
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                os.unlink(path)
                removed += 1
    (state_dir / "spool.pub").unlink(missing_ok=True)
    return removed
