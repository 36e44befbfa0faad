"""The spool: sealed to the daemon's key, never plaintext, drained once and in order; kill -9 loses nothing."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keyring
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from llmojid.client import hook
from llmojid.common import spool_format
from llmojid.daemon import spool
from tests.harness_transcripts import ClaudeSession, Expected, jsonl
from tests.hook_support import journal_rows, run_hook, spool_files, start, wait_spool_drained
from tests.support import DaemonProcess, scan_for, store_entry


def _keypair() -> tuple[bytes, bytes]:
    private = X25519PrivateKey.generate().private_bytes_raw()
    return private, spool.public_key_of(private)


def _spool_setup(tmp_path: Path) -> tuple[bytes, Path, Path]:
    private, _ = _keypair()
    key_path = tmp_path / "spool.pub"
    spool.publish_public_key(private, key_path)
    return private, tmp_path / "spool", key_path


# --- the format -------------------------------------------------------------------------------------------------------
def test_a_spooled_event_opens_with_the_private_key_only(tmp_path: Path) -> None:
    private, spool_dir, key_path = _spool_setup(tmp_path)
    payload = b'{"secret": "CANARY-SPOOL-1"}'
    path = hook.spool("claude-code", payload, spool_dir=spool_dir, public_key_path=key_path)
    data = path.read_bytes()
    assert b"CANARY" not in data and b"claude-code" not in data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(spool_dir.stat().st_mode) == 0o700
    entry = spool.open_entry(private, data)
    assert (entry.harness, entry.payload) == ("claude-code", payload)
    assert entry.ts.endswith("Z") and entry.ts.startswith("20")
    other, _ = _keypair()
    with pytest.raises(spool.SpoolError):
        spool.open_entry(other, data)
    for damaged in (data[:-1], data[:10], b"", data[:40] + bytes([data[40] ^ 1]) + data[41:], b"XXXXXX" + data[6:]):
        with pytest.raises(spool.SpoolError):
            spool.open_entry(private, damaged)


def test_spool_files_come_back_in_arrival_order(tmp_path: Path) -> None:
    _, spool_dir, key_path = _spool_setup(tmp_path)
    written = [hook.spool("generic", b"%d" % i, spool_dir=spool_dir, public_key_path=key_path) for i in range(20)]
    (spool_dir / f"{spool_format.SPOOL_TMP_PREFIX}half-written{spool_format.SPOOL_SUFFIX}").write_bytes(b"x")
    stale = spool_dir / f"{spool_format.SPOOL_TMP_PREFIX}stale{spool_format.SPOOL_SUFFIX}"
    stale.write_bytes(b"x")
    os.utime(stale, (0, 0))
    assert spool.pending(spool_dir) == written
    assert not stale.exists()  # a hook that died mid-write an hour ago is not coming back
    assert (spool_dir / f"{spool_format.SPOOL_TMP_PREFIX}half-written{spool_format.SPOOL_SUFFIX}").exists()


def test_the_public_key_file_is_checked(tmp_path: Path) -> None:
    private, _, key_path = _spool_setup(tmp_path)
    assert hook.read_public_key(key_path) == spool.public_key_of(private)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    before = key_path.stat().st_ino
    spool.publish_public_key(private, key_path)
    assert key_path.stat().st_ino == before  # unchanged key: file left alone
    link = tmp_path / "link.pub"
    link.symlink_to(key_path)
    short = tmp_path / "short.pub"
    short.write_bytes(b"\x01" * 31)
    for bad in (link, short, tmp_path / "missing.pub", tmp_path):
        with pytest.raises(hook.SpoolUnavailable):
            hook.read_public_key(bad)


def test_a_public_key_others_could_replace_is_not_sealed_to(tmp_path: Path) -> None:
    """Whoever can write the key file (or swap it in its directory) would choose whom the hook seals to."""
    private, spool_dir, key_path = _spool_setup(tmp_path)
    assert hook.read_public_key(key_path) == spool.public_key_of(private)
    for mode in (0o620, 0o602, 0o666):
        key_path.chmod(mode)
        with pytest.raises(hook.SpoolUnavailable, match="others could replace it"):
            hook.read_public_key(key_path)
    key_path.chmod(0o644)  # readable by others is fine: it is a public key
    assert hook.read_public_key(key_path) == spool.public_key_of(private)
    key_path.chmod(0o600)
    key_path.parent.chmod(0o777)
    with pytest.raises(hook.SpoolUnavailable, match="directory"):
        hook.spool("generic", b"x", spool_dir=spool_dir, public_key_path=key_path)
    key_path.parent.chmod(0o700)
    assert not spool_dir.exists() or list(spool_dir.iterdir()) == []


def test_the_daemon_reads_the_spool_format_without_the_hook() -> None:
    """The format lives in common/: the daemon's spool, stats and auditor do not import the hook's entry point."""
    code = (
        "import sys\n"
        "import llmojid.daemon.spool, llmojid.daemon.stats, llmojid.daemon.privacy.auditor\n"
        "print('llmojid.client.hook' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_spool_directory_that_is_not_private_is_refused(tmp_path: Path) -> None:
    _, spool_dir, key_path = _spool_setup(tmp_path)
    spool_dir.mkdir(mode=0o755)
    spool_dir.chmod(0o755)
    with pytest.raises(hook.SpoolUnavailable):
        hook.spool("generic", b"x", spool_dir=spool_dir, public_key_path=key_path)
    assert list(spool_dir.iterdir()) == []


# --- with the real daemon ---------------------------------------------------------------------------------------------
def _generic(seq: int, canary: str) -> bytes:
    message = {
        "model": "m",
        "cwd": "/w",
        "user_text": f"prompt {seq} {canary}",
        "assistant_text": f"(◕‿◕) reply {seq} {canary}",
        "ts": f"2026-03-01T00:00:{seq % 60:02d}Z",
        "message_id": f"msg-{seq}",
    }
    return json.dumps(message).encode()


def _spool_key(proc: DaemonProcess) -> bytes:
    raw = keyring.get_password(proc.env["LLMOJID_KEYRING_SERVICE"], store_entry(proc.env, "spool-key"))
    assert raw is not None
    return base64.b64decode(raw)


@pytest.mark.slow
def test_200_events_spool_without_plaintext_and_drain_once_in_order(workdir: Path, daemon_env: dict[str, str]) -> None:
    proc = start(DaemonProcess(workdir, daemon_env))  # first start: publishes the spool key
    assert proc.stop() == 0
    canary = "CANARY-7f3e9a"

    def call(seq: int) -> tuple[int, bytes, bytes]:
        result = run_hook(daemon_env, "generic", _generic(seq, canary), timeout_ms=300)
        return result.returncode, result.stdout, result.stderr

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(call, range(200)))
    assert results == [(0, b"", b"")] * 200
    files = spool_files(proc)
    assert len(files) == 200
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert scan_for(workdir, [canary.encode(), b"reply 1", b"prompt 1"]) == []

    private = _spool_key(proc)
    order = [json.loads(spool.open_entry(private, f.read_bytes()).payload)["message_id"] for f in files]
    start(proc)
    try:
        wait_spool_drained(proc)
        rows = journal_rows(proc)
        assert [f"msg-{r.assistant_text.split()[1]}" for r in rows] == order  # drained in spool order
        assert sorted(int(r.assistant_text.split()[1]) for r in rows) == list(range(200))  # each exactly once
        assert list((proc.state_dir / "spool").iterdir()) == []
    finally:
        assert proc.stop() == 0
    assert scan_for(workdir, [canary.encode()]) == []  # and nothing on disk holds it in plaintext


@pytest.mark.slow
def test_kill_9_mid_stream_loses_no_row_and_duplicates_none(workdir: Path, daemon_env: dict[str, str]) -> None:
    proc = start(DaemonProcess(workdir, daemon_env))
    session = ClaudeSession(canary="CANARY-K9")
    transcript = proc.home / f"{session.session}.jsonl"
    transcript.write_bytes(b"")
    expected: list[Expected] = []
    steps = 16
    calls_done = threading.Semaphore(0)

    def stream() -> None:
        for n in range(steps):
            events, rows = session.turn(n + 1)
            expected.extend(rows)
            with transcript.open("ab") as f:
                f.write(jsonl(events))
            assert run_hook(daemon_env, "claude-code", session.stop_payload(str(transcript))).returncode == 0
            assert run_hook(daemon_env, "generic", _generic(n, "K9"), timeout_ms=300).returncode == 0
            calls_done.release()

    worker = threading.Thread(target=stream)
    worker.start()
    for _ in range(steps // 2):
        calls_done.acquire()
    proc.kill9()  # in the middle of the stream: later hooks find no daemon and spool
    worker.join()
    assert spool_files(proc)  # the events after the kill were kept
    start(proc)
    try:
        wait_spool_drained(proc)
        claude = journal_rows(proc, "claude-code")
        assert [
            Expected(r.ts, r.model, r.session, r.kaomoji, r.assistant_text, r.user_text, r.cwd) for r in claude
        ] == [*sorted(expected, key=lambda x: x.ts)]
        generic = [r.assistant_text for r in journal_rows(proc, "generic")]
        assert sorted(generic) == sorted(f"reply {n} K9" for n in range(steps))
    finally:
        assert proc.stop() == 0
