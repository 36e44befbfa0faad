"""The store on a real file: damage is refused and left untouched; migrations; group commit; durability."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from pathlib import Path

import pytest
import trio

from llmojid.daemon import schema
from llmojid.daemon.keys import KeyManager
from llmojid.daemon.store import StorageError, Store
from tests.support import LLMOJID, DaemonProcess, store_entry


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def serve_once(daemon: DaemonProcess) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LLMOJID, "serve"], env=daemon.env, capture_output=True, timeout=60, text=True)


def test_damaged_database_is_refused_and_left_untouched(daemon: DaemonProcess) -> None:
    daemon.ctl("status")
    assert daemon.stop() == 0
    db = daemon.state_dir / "llmojid.db"
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xa5" * (4096 - 100)  # trash the header's tail and the schema page
    db.write_bytes(bytes(data))
    before = digest(db)
    result = serve_once(daemon)
    assert result.returncode == 1
    assert "left untouched" in result.stderr or "damaged" in result.stderr
    assert digest(db) == before


def test_not_a_database_is_refused(daemon: DaemonProcess) -> None:
    assert daemon.stop() == 0
    db = daemon.state_dir / "llmojid.db"
    db.write_bytes(b"this is not sqlite at all" * 100)
    before = digest(db)
    result = serve_once(daemon)
    assert result.returncode == 1 and digest(db) == before


def test_symlinked_database_is_refused(daemon: DaemonProcess) -> None:
    assert daemon.stop() == 0
    db = daemon.state_dir / "llmojid.db"
    elsewhere = daemon.root / "elsewhere.db"
    db.rename(elsewhere)
    db.symlink_to(elsewhere)
    result = serve_once(daemon)
    assert result.returncode == 1 and "not a regular file" in result.stderr


def test_newer_schema_is_refused(daemon: DaemonProcess) -> None:
    assert daemon.stop() == 0
    db = daemon.state_dir / "llmojid.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 5}")
    result = serve_once(daemon)
    assert result.returncode == 1 and "upgrade llmojid" in result.stderr


def test_data_without_its_key_is_refused_not_rekeyed(daemon: DaemonProcess) -> None:
    """A journal whose key has vanished from the keyring must not get a fresh key silently."""
    import keyring

    from tests.test_daemon import rows_with, submit

    submit(daemon, rows_with("k", 2))
    assert daemon.stop() == 0
    service = daemon.env["LLMOJID_KEYRING_SERVICE"]
    keyring.delete_password(service, store_entry(daemon.env, "active-key"))
    result = serve_once(daemon)
    assert result.returncode == 1 and "keyring" in result.stderr
    assert keyring.get_password(service, store_entry(daemon.env, "active-key")) is None


async def test_group_commit_and_savepoint_isolation(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many concurrent writes share commits; one failing write does not take its batch down."""
    monkeypatch.setattr("llmojid.daemon.keys.SERVICE", f"llmojid-test-store-{workdir.name}")
    keys = KeyManager.open()
    store = Store.open(workdir / "t.db", keys)
    results: list[object] = []

    def ok(i: int):  # type: ignore[no-untyped-def]
        return lambda conn: conn.execute("INSERT INTO meta (key, value) VALUES (?, 'v')", (f"k{i}",)).rowcount

    def bad(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO meta (key, value) VALUES ('bad', NULL)")  # violates NOT NULL

    async def one(fn) -> None:  # type: ignore[no-untyped-def]
        try:
            results.append(await store.write(fn))
        except StorageError as exc:
            results.append(exc)

    async with trio.open_nursery() as nursery:
        await nursery.start(store.writer)
        async with trio.open_nursery() as writers:
            for i in range(50):
                writers.start_soon(one, ok(i))
            writers.start_soon(one, bad)
        nursery.cancel_scope.cancel()
    store.close()
    assert results.count(1) == 50
    assert sum(isinstance(r, StorageError) for r in results) == 1
    with sqlite3.connect(workdir / "t.db") as conn:
        assert conn.execute("SELECT count(*) FROM meta WHERE key LIKE 'k%'").fetchone()[0] == 50
    keys.delete_all()


def test_migrations_are_wellformed() -> None:
    conn = sqlite3.connect(":memory:")
    from llmojid.daemon.store import _statements

    for script in schema.MIGRATIONS:
        for statement in _statements(script):
            conn.execute(statement)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(schema.SEALED_COLUMNS) <= tables
    for table, columns in schema.SEALED_COLUMNS.items():
        types = {r[1]: r[2] for r in conn.execute(f"PRAGMA table_info({table})")}
        assert all(types[c] == "BLOB" for c in columns), table
