"""OpenCode's path through the real hook and daemon: ``llmojid-ctl hook opencode <file>`` reads the hand-off file
our plugin writes, sends it (or spools it sealed when the daemon is away), removes it, and refuses any file that
is not a private hand-off of ours without reading or removing it. Leftovers of a killed hook are picked up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from llmojid.client import handoff
from tests.harness_transcripts import Expected, OpenCodeSession
from tests.hook_support import (
    HOOK_PATH_MODULES,
    imported_modules,
    journal_rows,
    spool_files,
    start,
    wait_spool_drained,
)
from tests.support import LLMOJID_CTL, DaemonProcess, make_env


def _handoff_dir(proc: DaemonProcess) -> Path:
    folder = proc.root / "run" / "llmojid" / "opencode"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _write(folder: Path, name: str, document: dict[str, object], mode: int = 0o600) -> Path:
    """A hand-off file as the plugin writes it (``openSync(path, "wx", 0o600)``)."""
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(json.dumps(document).encode())
    os.chmod(path, mode)
    return path


def _hook(proc: DaemonProcess, path: Path) -> subprocess.CompletedProcess[bytes]:
    env = dict(proc.env, LLMOJID_HOOK_TIMEOUT_MS="10000")
    return subprocess.run(
        [LLMOJID_CTL, "hook", "opencode", str(path)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
    )


def _rows(proc: DaemonProcess) -> list[Expected]:
    return [
        Expected(r.ts, r.model, r.session, r.kaomoji, r.assistant_text, r.user_text, r.cwd)
        for r in journal_rows(proc, "opencode")
    ]


def test_a_handoff_is_sent_then_removed_and_a_repeat_stores_once(daemon: DaemonProcess) -> None:
    folder = _handoff_dir(daemon)
    documents, expected = OpenCodeSession().turn(1)
    for n, document in enumerate(documents):
        path = _write(folder, f"msg-{n:015d}-1-abc.json", document)
        result = _hook(daemon, path)
        assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
        assert not path.exists()
    assert _rows(daemon) == expected
    # The plugin (or a retried hook) handing over the same message again stores nothing new.
    _hook(daemon, _write(folder, "msg-000000000000009-1-abc.json", documents[1]))
    assert _rows(daemon) == expected
    assert list(folder.iterdir()) == []


def test_with_the_daemon_away_the_handoff_is_spooled_sealed_and_removed(
    workdir: Path, daemon_env: dict[str, str]
) -> None:
    proc = start(DaemonProcess(workdir, daemon_env))  # first start: publishes the spool key
    assert proc.stop() == 0
    folder = _handoff_dir(proc)
    documents, expected = OpenCodeSession(canary="CANARY-HANDOFF").turn(1)
    path = _write(folder, "msg-000000000000001-1-abc.json", documents[1])
    result = _hook(proc, path)
    assert (result.returncode, result.stdout) == (0, b"")
    assert not path.exists()
    spooled = spool_files(proc)
    assert len(spooled) == 1 and b"CANARY-HANDOFF" not in spooled[0].read_bytes()
    start(proc)
    try:
        wait_spool_drained(proc)
        assert _rows(proc) == expected
    finally:
        assert proc.stop() == 0


def test_files_that_are_not_private_handoffs_are_neither_read_nor_removed(daemon: DaemonProcess) -> None:
    folder = _handoff_dir(daemon)
    document = OpenCodeSession().turn(1)[0][1]
    readable = _write(folder, "msg-000000000000001-1-abc.json", document, mode=0o644)
    wrong_name = _write(folder, "notes.json", document)
    target = _write(daemon.root, "msg-000000000000002-1-abc.json", document)
    link = folder / "msg-000000000000003-1-abc.json"
    link.symlink_to(target)
    open_folder = daemon.root / "shared"
    open_folder.mkdir(mode=0o755)
    os.chmod(open_folder, 0o755)  # noqa: S103 - a folder others can enter is what the hook must refuse
    in_open_folder = _write(open_folder, "msg-000000000000004-1-abc.json", document)
    relative = Path("msg-000000000000005-1-abc.json")
    for path in (readable, wrong_name, link, in_open_folder, relative, folder / "msg-missing.json"):
        result = _hook(daemon, path)
        assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    for path in (readable, wrong_name, link, target, in_open_folder):
        assert path.exists() or path.is_symlink()
    assert journal_rows(daemon, "opencode") == []


def test_the_next_hook_picks_up_what_a_killed_hook_left(daemon: DaemonProcess) -> None:
    folder = _handoff_dir(daemon)
    session = OpenCodeSession()
    first, expected_first = session.turn(1)
    second, expected_second = session.turn(2)
    left = _write(folder, "msg-000000000000001-1-abc.json", first[1])
    old = time.time() - handoff.ORPHAN_AGE_SECONDS - 5
    os.utime(left, (old, old))
    fresh_other = _write(folder, "msg-000000000000002-2-abc.json", second[2])  # another hook's, in flight
    result = _hook(daemon, _write(folder, "msg-000000000000003-1-abc.json", second[1]))
    assert result.returncode == 0
    assert not left.exists() and fresh_other.exists()
    assert sorted(_rows(daemon), key=lambda e: e.ts) == sorted(expected_first + expected_second, key=lambda e: e.ts)


def test_handoff_names() -> None:
    assert handoff.is_handoff_name("msg-000001796300267213-10965-k2j4x9.json")
    for name in ("msg-.json", "msg-a/b.json", "msg-1.json.tmp", "other-1.json", "msg-1 2.json", ".msg-1.json"):
        assert not handoff.is_handoff_name(name)


def test_the_opencode_hook_path_reads_only_the_standard_library(tmp_path: Path) -> None:
    """``python -X importtime`` of ``hook opencode <file>``: the standard library and the hook's own modules only."""
    env = make_env(tmp_path)
    folder = tmp_path / "run" / "llmojid" / "opencode"
    folder.mkdir(mode=0o700, parents=True)
    path = _write(folder, "msg-000000000000001-1-abc.json", OpenCodeSession().turn(1)[0][1])
    code = (
        "import sys; sys.argv = ['llmojid-ctl', 'hook', 'opencode', sys.argv[1]];"
        " from llmojid.client.entry import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, str(path)], env=env, capture_output=True, timeout=60
    )
    assert result.returncode == 0
    assert not path.exists(), "read and removed (no daemon ever ran here: the event could not be kept)"
    ours, foreign = imported_modules(result.stderr)
    assert ours <= HOOK_PATH_MODULES and foreign == set()
    assert "llmojid.client.handoff" in ours


def test_hostile_handoff_contents_never_fail_the_hook_or_the_daemon(daemon: DaemonProcess) -> None:
    folder = _handoff_dir(daemon)
    good_document, expected = OpenCodeSession().turn(1)[0][1], OpenCodeSession().turn(1)[1]
    contents = [b"\xff\xfe not json", b"[" * 100_000, b"", b'{"info": 5, "parts": {"a": 1}}', b"null"]
    for n, data in enumerate(contents):
        path = folder / f"msg-{n:015d}-1-hostile.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        result = _hook(daemon, path)
        assert (result.returncode, result.stdout) == (0, b"")
        assert not path.exists()
    _hook(daemon, _write(folder, "msg-000000000000099-1-abc.json", good_document))
    assert _rows(daemon) == expected
    health = next(h for h in daemon.ctl_json("stats", "--json")["hooks"] if h["harness"] == "opencode")
    # The empty file is no event at all; a document of the wrong shape gives no row; three do not decode.
    assert (health["rows_added"], health["bad_payloads"]) == (1, 3)


def test_audit_flags_a_handoff_left_waiting(daemon: DaemonProcess) -> None:
    folder = _handoff_dir(daemon)
    path = _write(folder, "msg-000000000000001-1-abc.json", OpenCodeSession(canary="CANARY-AUDIT").turn(1)[0][1])
    fresh = daemon.ctl("audit", "--json", check=False)
    assert fresh.returncode == 0, fresh.stdout
    old = time.time() - 3600
    os.utime(path, (old, old))
    stale = daemon.ctl("audit", "--json", check=False)
    assert stale.returncode != 0
    failures = json.loads(stale.stdout)["failures"]
    assert [(f["check"], f["where"]) for f in failures] == [("spool", str(path))]
    assert b"CANARY-AUDIT" not in stale.stdout + stale.stderr
