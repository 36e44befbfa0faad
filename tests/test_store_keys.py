"""Keys belong to one store and are never silently remade; ``forget --all`` survives a crash at every step.

Everything is real: the ``llmojid`` daemon in a subprocess, its SQLite file, the Secret Service of the suite's
D-Bus session (entries are listed with secretstorage, as Seahorse would list them, so the tests also hold for the
entry names stores used before the binding).

* Two state directories sharing one keyring service (``XDG_STATE_HOME`` set in a shell but not in the service
  manager) keep their own keys: ``keys rotate`` and ``forget --all`` on one leave the other readable.
* A copy of a store (same store id) is refused while the original exists; once it is gone (a move), it starts.
* A store made by the code before the binding (run from the base commit's source, so its store and keyring are
  made the old way) opens after the upgrade, its entries moved to the new names, also when the move is killed
  after any keyring write.
* A store that holds values made with the index key or a data key never gets a new one: a start without it is
  refused with a message that names what is missing, and writes nothing to the keyring.
* ``forget --all`` killed with SIGKILL before each keyring delete (the real daemon, its keyring calls counted by
  a wrapper that kills the process): every resulting state starts, and the start finishes the forgetting.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import secretstorage

from llmojid.client import protocol as p
from llmojid.client.connection import Client
from tests.hook_support import journal_rows, run_hook, spool_files, start
from tests.support import LLMOJID, DaemonProcess, make_env, remove_tree, short_tempdir
from tests.test_audit_canary import _turn
from tests.test_audit_helpers import audit, db, failures, request, rows, seed_cache, submit

REPO = Path(__file__).resolve().parent.parent
#: The commit this work started from: its daemon makes stores and keyring entries the old way (bare names).
BEFORE_BINDING = "85d44dd"
#: A daemon whose keyring backend dies (SIGKILL, no cleanup) before its delete number KILL_AT_DELETE + 1.
DYING_DAEMON = """
import os, signal, sys
from keyring.backends import SecretService
limit, calls = int(os.environ["KILL_AT_DELETE"]), [0]
original = SecretService.Keyring.delete_password
def delete_password(self, service, username):
    if calls[0] >= limit:
        os.kill(os.getpid(), signal.SIGKILL)
    calls[0] += 1
    return original(self, service, username)
SecretService.Keyring.delete_password = delete_password
from llmojid.daemon.main import main
sys.exit(main(["serve"]))
"""
#: Store.open with the keyring backend's writes counted: SIGKILL before write number KILL_AT_SET + 1.
DYING_OPEN = """
import os, signal, sys
from pathlib import Path
from keyring.backends import SecretService
limit, calls = int(os.environ["KILL_AT_SET"]), [0]
original = SecretService.Keyring.set_password
def set_password(self, service, username, password):
    if calls[0] >= limit:
        os.kill(os.getpid(), signal.SIGKILL)
    calls[0] += 1
    return original(self, service, username, password)
SecretService.Keyring.set_password = set_password
from llmojid.daemon.keys import KeyManager
from llmojid.daemon.store import Store
Store.open(Path(sys.argv[1]), KeyManager.open()).close()
"""


# --- the keyring as it is ------------------------------------------------------------------------------------------
def entries(service: str) -> dict[str, str]:
    """Every entry of ``service`` in the session's Secret Service, full name -> secret."""
    with closing(secretstorage.dbus_init()) as conn:
        collection = secretstorage.get_default_collection(conn)
        return {
            item.get_attributes()["username"]: item.get_secret().decode()
            for item in collection.search_items({"service": service})
        }


def replace_all(service: str, wanted: dict[str, str]) -> None:
    """Make ``service``'s entries exactly ``wanted``, written as keyring's SecretService backend writes them."""
    with closing(secretstorage.dbus_init()) as conn:
        collection = secretstorage.get_default_collection(conn)
        for item in collection.search_items({"service": service}):
            item.delete()
        for name, value in wanted.items():
            attributes = {"service": service, "username": name, "application": "Python keyring library"}
            collection.create_item(f"Password for '{name}' on '{service}'", attributes, value.encode(), replace=True)


def delete_entry(service: str, short: str) -> None:
    """Delete the entries called ``short`` (bare, or a store's ``<id>/short``)."""
    found = entries(service)
    replace_all(service, {k: v for k, v in found.items() if k not in named(found, short)})


def named(found: dict[str, str], short: str) -> list[str]:
    """The full names of entries called ``short`` (bare, or a store's ``<id>/short``)."""
    return sorted(name for name in found if name == short or name.endswith("/" + short))


def secrets_of(found: dict[str, str]) -> set[str]:
    """The secret values (not key ids, not paths) among ``found``."""
    return {v for k, v in found.items() if not k.endswith(("active-key", "/store"))}


def serve_once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LLMOJID, "serve"], env=env, capture_output=True, timeout=60, text=True)


def fill(proc: DaemonProcess, canary: str, n: int = 8) -> None:
    assert submit(proc, rows(canary, n)) == n
    seed_cache(proc)
    session = str(uuid.uuid4())
    transcript = proc.root / f"{session}.jsonl"
    transcript.write_bytes(_turn(session, "/w", f"prompt {canary}", f"reply {canary}", 1))
    payload = json.dumps({"session_id": session, "transcript_path": str(transcript), "hook_event_name": "Stop"})
    assert run_hook(proc.env, "claude-code", payload.encode()).returncode == 0


def all_open(proc: DaemonProcess, canary: str, n: int) -> None:
    got = journal_rows(proc)
    assert len(got) == n + 1, len(got)
    assert all(canary in r.assistant_text for r in got)
    code, report, _ = audit(proc)
    assert code == 0, failures(report)


@pytest.fixture
def second_root() -> Iterator[Path]:
    root = short_tempdir()
    yield root
    remove_tree(root)


# --- item 3: keyring entries bound to a store ------------------------------------------------------------------------
def test_two_state_dirs_sharing_a_keyring_service_keep_their_own_keys(daemon: DaemonProcess, second_root: Path) -> None:
    fill(daemon, "CANARY-A")
    other_env = make_env(second_root) | {"LLMOJID_KEYRING_SERVICE": daemon.env["LLMOJID_KEYRING_SERVICE"]}
    other = start(DaemonProcess(second_root, other_env))
    try:
        fill(other, "CANARY-B")
        summary = request(other, "keys.rotate")
        assert isinstance(summary, dict) and summary["deleted"]
        assert other.ctl("forget", "--all", input=b"y\n").returncode == 0
        assert other.proc is not None and other.proc.wait(30) == 0
    finally:
        other.stop()
    # The first store's keys are untouched: a fresh start loads them from the keyring and every value opens.
    assert daemon.stop() == 0
    start(daemon)
    all_open(daemon, "CANARY-A", 8)


def test_a_copy_of_a_store_is_refused_while_the_original_exists(daemon: DaemonProcess, second_root: Path) -> None:
    fill(daemon, "CANARY-COPY", 4)
    assert daemon.stop() == 0
    copy_env = make_env(second_root) | {"LLMOJID_KEYRING_SERVICE": daemon.env["LLMOJID_KEYRING_SERVICE"]}
    copy = DaemonProcess(second_root, copy_env)
    shutil.copytree(daemon.state_dir, copy.state_dir)
    before = entries(daemon.env["LLMOJID_KEYRING_SERVICE"])

    refused = serve_once(copy_env)
    assert refused.returncode == 1
    assert "copy" in refused.stderr and str(daemon.state_dir / "llmojid.db") in refused.stderr
    assert entries(daemon.env["LLMOJID_KEYRING_SERVICE"]) == before  # nothing changed
    start(daemon)  # the original is not disturbed
    all_open(daemon, "CANARY-COPY", 4)
    assert daemon.stop() == 0

    # Moved, not copied: once the original is gone the keys follow the store to its new place.
    shutil.rmtree(daemon.state_dir)
    start(copy)
    try:
        all_open(copy, "CANARY-COPY", 4)
    finally:
        assert copy.stop() == 0


def _old_source(root: Path) -> Path:
    """The base commit's daemon, client and common, laid out as the installed ``llmojid`` namespace."""
    target = root / "old-src" / "llmojid"
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", BEFORE_BINDING, "daemon", "client", "common"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target.parent


def _old_daemon(root: Path, env: dict[str, str]) -> DaemonProcess:
    """A DaemonProcess running the base commit's code (PYTHONPATH wins over the editable install's finder)."""
    old = DaemonProcess(root, env | {"PYTHONPATH": str(_old_source(root))})
    old.proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from llmojid.daemon.main import main; sys.exit(main(['serve']))"],
        env=old.env,
        stdout=open(old.log_path, "ab"),  # noqa: SIM115 - handed to the child
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    old.wait_ready()
    return old


@pytest.mark.slow
def test_a_store_made_before_the_binding_opens_and_its_entries_move(workdir: Path, daemon_env: dict[str, str]) -> None:
    service = daemon_env["LLMOJID_KEYRING_SERVICE"]
    old = _old_daemon(workdir, daemon_env)
    try:
        fill(old, "CANARY-OLD", 6)
        old.ctl("bundle", "build")  # makes the submitter secret
    finally:
        assert old.stop() == 0
    legacy = entries(service)
    assert {"active-key", "index-key", "spool-key", "submitter-secret"} <= set(legacy), sorted(legacy)
    assert f"data-key:{legacy['active-key']}" in legacy
    database = old.state_dir / "llmojid.db"
    files = [Path(f"{database}{suffix}") for suffix in ("", "-wal")]
    snapshot = {path: path.read_bytes() for path in files if path.exists()}

    # Killed after each keyring write of the move (and then once not killed at all): the next start finishes it.
    writes = len(legacy) + 1  # each entry copied once, and the store's path recorded
    for kill_at in [*range(writes), None]:
        if kill_at is not None:
            child = subprocess.run(
                [sys.executable, "-c", DYING_OPEN, str(database)],
                env=daemon_env | {"KILL_AT_SET": str(kill_at)},
                capture_output=True,
                timeout=60,
            )
            assert child.returncode == -9, child.stderr.decode(errors="replace")
        proc = start(DaemonProcess(workdir, daemon_env))
        try:
            all_open(proc, "CANARY-OLD", 6)
            assert submit(proc, rows("CANARY-OLD", 6)) == 0  # the same index key: the same dedup ids
            now = entries(service)
            assert not set(now) & set(legacy), "a bare entry was left behind"
            lost = sorted(
                name for name, value in legacy.items() if value in secrets_of(legacy) and value not in now.values()
            )
            assert lost == [], lost  # every secret kept, under the store's own names
        finally:
            assert proc.stop() == 0
        # Back to the state the old code left, for the next trial.
        replace_all(service, legacy)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        for path, data in snapshot.items():
            path.write_bytes(data)


# --- item 4: secrets are never remade over data sealed or keyed with them --------------------------------------------
def test_a_missing_index_key_is_refused_not_remade(daemon: DaemonProcess) -> None:
    fill(daemon, "CANARY-IDX", 3)
    assert daemon.stop() == 0
    service = daemon.env["LLMOJID_KEYRING_SERVICE"]
    delete_entry(service, "index-key")
    before = entries(service)
    refused = serve_once(daemon.env)
    assert refused.returncode == 1
    assert "index key" in refused.stderr and "Nothing was changed" in refused.stderr
    assert entries(service) == before  # no new index key
    assert "CANARY" not in refused.stderr


def test_an_empty_journal_with_sealed_cursor_rows_gets_no_new_data_key(daemon: DaemonProcess) -> None:
    fill(daemon, "CANARY-CUR", 2)
    assert daemon.stop() == 0
    conn = db(daemon)
    conn.execute("DELETE FROM journal")  # left: the transcript's cursor and the synthesis cache, both sealed
    assert conn.execute("SELECT count(*) FROM transcript_cursor").fetchone()[0] == 1
    conn.close()
    service = daemon.env["LLMOJID_KEYRING_SERVICE"]
    delete_entry(service, "active-key")
    before = entries(service)
    refused = serve_once(daemon.env)
    assert refused.returncode == 1
    assert "no data key for this store" in refused.stderr and "no new key was made" in refused.stderr
    assert entries(service) == before


def test_a_missing_spool_key_is_refused_while_spooled_turns_wait(daemon: DaemonProcess) -> None:
    fill(daemon, "CANARY-SPOOL", 2)
    assert daemon.stop() == 0
    payload = json.dumps({"model": "m", "cwd": "/w", "user_text": "u", "assistant_text": "(◕‿◕) CANARY-SPOOL"})
    assert run_hook(daemon.env, "generic", payload.encode()).returncode == 0  # no daemon: sealed into the spool
    assert [f.suffix for f in spool_files(daemon)] == [".spool"]
    service = daemon.env["LLMOJID_KEYRING_SERVICE"]
    delete_entry(service, "spool-key")
    before = entries(service)
    refused = serve_once(daemon.env)
    assert refused.returncode == 1
    assert "no spool key" in refused.stderr and "Nothing was changed" in refused.stderr
    assert entries(service) == before  # no new spool key: the waiting file stays openable once it is restored
    assert [f.suffix for f in spool_files(daemon)] == [".spool"] and "CANARY" not in refused.stderr
    for f in spool_files(daemon):  # moved aside, as the message says: the daemon starts and makes a new key
        f.unlink()
    daemon.start()
    assert len(named(entries(service), "spool-key")) == 1


# --- item 2: forget --all killed at every step ----------------------------------------------------------------------
@pytest.mark.slow
def test_forget_all_killed_before_each_keyring_delete_always_starts_and_finishes(
    workdir: Path, daemon_env: dict[str, str]
) -> None:
    service = daemon_env["LLMOJID_KEYRING_SERVICE"]
    deletes = 6  # active-key, the data key, index, spool, submitter, the store's path record
    for kill_at in range(deletes + 1):
        dying = DaemonProcess(workdir, daemon_env | {"KILL_AT_DELETE": str(kill_at)})
        dying.proc = subprocess.Popen(
            [sys.executable, "-c", DYING_DAEMON],
            env=dying.env,
            stdout=open(dying.log_path, "ab"),  # noqa: SIM115 - handed to the child
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            dying.wait_ready()
            fill(dying, f"CANARY-FGT{kill_at}", 4)
            dying.ctl("bundle", "build")
            held = entries(service)
            dying.ctl("forget", "--all", input=b"y\n", check=False)
            code = dying.proc.wait(60)
        finally:
            if dying.proc.poll() is None:  # a failed step above must not leave it running
                dying.proc.kill()
                dying.proc.wait()
        assert code == (-9 if kill_at < deletes else 0), (kill_at, code, dying.log())

        # Whatever step it died at, a start is accepted, finishes the forgetting and begins afresh.
        proc = start(DaemonProcess(workdir, daemon_env))
        try:
            assert journal_rows(proc) == []
            left = entries(service)
            kept = sorted(name for name, value in left.items() if value in secrets_of(held))
            assert kept == [], (kill_at, sorted(left))  # names only: a secret never goes into a message
            assert not (proc.state_dir / "spool").exists() or not any((proc.state_dir / "spool").iterdir())
            assert not (Path(daemon_env["XDG_DATA_HOME"]) / "llmojid" / "bundle").exists()
            assert all(n == 0 for t, n in _counts(proc).items() if t != "meta"), _counts(proc)
            code_, report, _ = audit(proc)
            assert code_ == 0, failures(report)
            with Client(proc.socket_path) as client:
                assert isinstance(client.request(p.Status()), p.StatusReply)
        finally:
            assert proc.stop() == 0


def _counts(proc: DaemonProcess) -> dict[str, int]:
    conn = db(proc)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in names}  # noqa: S608
    finally:
        conn.close()
