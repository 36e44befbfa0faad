"""The auditor against a real daemon: it passes on a healthy install and fails, with a precise message and exit 4,
on each seeded fault (a plaintext row, a foreign file in the bundle, a symlink, a world-readable state file, a value
sealed under a deleted key, and a few more). Each fault is undone afterwards, so one daemon serves the module.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from llmojid.daemon.seal import seal
from tests.hook_support import start
from tests.support import DaemonProcess, make_env, remove_tree, short_tempdir, store_entry
from tests.test_audit_helpers import audit, db, failures, rows, service, submit

CANARY = f"CANARY-{secrets.token_hex(6)}"


@pytest.fixture(scope="module")
def proc() -> Iterator[DaemonProcess]:
    root = short_tempdir()
    daemon = start(DaemonProcess(root, make_env(root)))
    assert submit(daemon, rows(CANARY, 6)) == 6
    yield daemon
    assert daemon.stop() == 0, daemon.log()
    remove_tree(root)


def expect_failure(proc: DaemonProcess, *needles: str) -> list[str]:
    code, report, stderr = audit(proc, "--log", str(proc.log_path))
    found = failures(report)
    assert code == 4 and not report["ok"], found
    assert any(all(n in f for n in needles) for f in found), (needles, found)
    assert any(all(n in line for n in needles) for line in stderr.splitlines()), stderr  # the text report too
    return found


def expect_pass(proc: DaemonProcess) -> None:
    code, report, _ = audit(proc, "--log", str(proc.log_path))
    assert code == 0 and report["ok"], failures(report)


def test_a_healthy_install_passes(proc: DaemonProcess) -> None:
    code, report, _ = audit(proc, "--log", str(proc.log_path))
    assert code == 0, failures(report)
    checked = report["checked"]
    assert isinstance(checked, dict)
    assert checked["store.sealed"] == 24 and checked["logs"] == 1 and checked["modes"] > 3
    text = proc.ctl("audit").stdout.decode()
    assert "audit passed" in text and "store.sealed" in text


def test_plaintext_in_a_sealed_column(proc: DaemonProcess) -> None:
    conn = db(proc)
    row_id, original = conn.execute("SELECT id, user_text FROM journal ORDER BY id LIMIT 1").fetchone()
    conn.execute("UPDATE journal SET user_text = CAST(? AS BLOB) WHERE id = ?", ("call 415 555 0134 now", row_id))
    try:
        found = expect_failure(proc, "store.sealed", "journal.user_text", f"rows {row_id}", "not sealed")
        assert not any("415" in f for f in found)
    finally:
        conn.execute("UPDATE journal SET user_text = ? WHERE id = ?", (original, row_id))
        conn.close()
    expect_pass(proc)


def test_prose_or_personal_data_in_a_plaintext_column(proc: DaemonProcess) -> None:
    conn = db(proc)
    row_id, original = conn.execute("SELECT id, model FROM journal ORDER BY id DESC LIMIT 1").fetchone()
    conn.execute("UPDATE journal SET model = 'mail alice.smith@example.com today' WHERE id = ?", (row_id,))
    try:
        found = expect_failure(proc, "store.plaintext", "journal.model", f"rows {row_id}")
        assert not any("alice" in f for f in found)
    finally:
        conn.execute("UPDATE journal SET model = ? WHERE id = ?", (original, row_id))
        conn.close()
    expect_pass(proc)


def test_a_foreign_file_in_the_bundle(proc: DaemonProcess) -> None:
    folder = Path(proc.env["XDG_DATA_HOME"]) / "llmojid" / "bundle"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    try:
        expect_failure(proc, "bundle", "foreign file 'notes.txt'")
    finally:
        remove_tree(folder)
    expect_pass(proc)


def test_a_symlink_among_our_files(proc: DaemonProcess) -> None:
    link = proc.state_dir / "elsewhere"
    link.symlink_to("/etc/hostname")
    try:
        expect_failure(proc, "modes", str(link), "symlink")
    finally:
        link.unlink()
    expect_pass(proc)


def test_a_world_readable_state_file(proc: DaemonProcess) -> None:
    database = proc.state_dir / "llmojid.db"
    database.chmod(0o644)
    try:
        expect_failure(proc, "modes", str(database), "mode 0644")
    finally:
        database.chmod(0o600)
    expect_pass(proc)


def test_a_value_sealed_under_a_deleted_key(proc: DaemonProcess) -> None:
    key_id, key = secrets.token_hex(4), secrets.token_bytes(32)
    keyring.set_password(service(proc.env), store_entry(proc.env, f"data-key:{key_id}"), base64.b64encode(key).decode())
    conn = db(proc)
    row_id, original = conn.execute("SELECT id, cwd FROM journal ORDER BY id LIMIT 1 OFFSET 2").fetchone()
    sealed = seal(key, key_id, b"/home/someone/elsewhere", table="journal", column="cwd", row_id=row_id)
    conn.execute("UPDATE journal SET cwd = ? WHERE id = ?", (sealed, row_id))
    try:
        # While the key exists the value opens, but it is not under the active key: an unfinished rotation.
        expect_failure(proc, "store.sealed", "journal.cwd", f"under key {key_id}", "rotation is unfinished")
        keyring.delete_password(service(proc.env), store_entry(proc.env, f"data-key:{key_id}"))
        expect_failure(proc, "store.sealed", "journal.cwd", f"rows {row_id}", f"key {key_id}", "not in the keyring")
    finally:
        conn.execute("UPDATE journal SET cwd = ? WHERE id = ?", (original, row_id))
        conn.close()
    expect_pass(proc)


def test_a_value_moved_to_another_row(proc: DaemonProcess) -> None:
    conn = db(proc)
    (_a, va), (b, vb) = conn.execute("SELECT id, assistant_text FROM journal ORDER BY id LIMIT 2").fetchall()
    conn.execute("UPDATE journal SET assistant_text = ? WHERE id = ?", (va, b))
    try:
        expect_failure(proc, "store.sealed", "journal.assistant_text", f"rows {b}", "do not open")
    finally:
        conn.execute("UPDATE journal SET assistant_text = ? WHERE id = ?", (vb, b))
        conn.close()
    expect_pass(proc)


def test_spool_and_log_faults(proc: DaemonProcess) -> None:
    spool = proc.state_dir / "spool"
    spool.mkdir(mode=0o700, exist_ok=True)
    stray = spool / "00000000000000000001-0000001-abcd.spool"
    stray.write_bytes(b'{"harness": "claude-code", "payload": "in the clear"}')
    stray.chmod(0o600)
    try:
        expect_failure(proc, "spool", str(stray), "not sealed")
    finally:
        stray.unlink()
    log = proc.root / "leaky.log"
    log.write_text(f"INFO something: handled done {CANARY} 3\n")
    try:
        code, report, _ = audit(proc, "--log", str(log))
        assert code == 4 and any("logs" in f and "journal's text" in f for f in failures(report)), failures(report)
    finally:
        log.unlink()
    expect_pass(proc)


def test_unknown_check_is_a_usage_error(proc: DaemonProcess) -> None:
    result = proc.ctl("audit", "--only", "everything", check=False)
    assert result.returncode == 2
    code, report, _ = audit(proc, "--only", "modes")
    assert code == 0 and set(report["checked"]) == {"modes"}  # type: ignore[arg-type]
    assert os.stat(proc.state_dir).st_mode & 0o077 == 0
