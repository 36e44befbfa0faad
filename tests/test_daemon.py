"""The daemon end to end: a real `llmojid serve`, its real socket, SQLite file and OS keyring."""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
import subprocess
import time
from pathlib import Path

import keyring
import msgspec
import pytest

from llmojid.client import protocol as p
from llmojid.client.connection import Client
from tests.kill_tally import KILL_TRIALS
from tests.support import LLMOJID, DaemonProcess, inet_inodes, scan_for, socket_inodes, store_entry


def rows_with(canary: str, n: int = 1, start: int = 0) -> list[p.JournalRow]:
    return [
        p.JournalRow(
            ts=f"2026-11-0{1 + i % 9}T10:00:00Z",
            model="claude-test",
            harness="claude-code",
            session="sess-1",
            message_id=f"msg-{start + i}",
            kaomoji="(◕‿◕)",
            assistant_text=f"done {canary} {i}",
            user_text=f"please {canary}",
            cwd=f"/home/someone/{canary}",
        )
        for i in range(n)
    ]


def submit(daemon: DaemonProcess, rows: list[p.JournalRow]) -> int:
    with Client(daemon.socket_path) as client:
        reply = client.request(p.SubmitRows(rows=rows))
    assert isinstance(reply, p.HookAck)
    return reply.rows_added


def raw_connect(path: Path, hello: bool = True) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(str(path))
    if hello:
        sock.sendall(p.encode(p.Hello(version=p.PROTOCOL_VERSION, id=1)))
        assert isinstance(read_reply(sock), p.Welcome)
    return sock


def read_reply(sock: socket.socket) -> p.ServerMessage | None:
    """The next reply, or None when the daemon closed the connection."""
    decoder = p.FrameDecoder()
    while True:
        body = decoder.next_frame()
        if body is not p.NEED_DATA:
            return p.decode_server_message(body)  # type: ignore[arg-type]
        chunk = sock.recv(65536)
        if not chunk:
            return None
        decoder.feed(chunk)


# --- starting, modes, what the process holds --------------------------------------------------------------------
def test_status_json_and_modes(daemon: DaemonProcess) -> None:
    status = daemon.ctl_json("status", "--json")
    assert status["protocol"] == p.PROTOCOL_VERSION and status["pid"] == daemon.proc.pid  # type: ignore[union-attr]
    assert status["socket_path"] == str(daemon.socket_path)
    assert status["store_path"].startswith(str(daemon.state_dir)) and status["store_bytes"] > 0
    assert status["keyring_backend"].startswith("keyring.backends.SecretService")
    assert status["activated_by"] == "self" and status["schema_version"] >= 1
    assert stat.S_IMODE(os.lstat(daemon.socket_path).st_mode) == 0o600
    assert stat.S_IMODE(os.lstat(daemon.socket_path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(daemon.state_dir).st_mode) == 0o700
    for f in daemon.state_dir.iterdir():
        assert stat.S_IMODE(os.lstat(f).st_mode) & 0o077 == 0, f
    text = daemon.ctl("status").stdout.decode()
    assert "is running" in text and str(daemon.socket_path) in text


def test_daemon_process_cannot_dump_core(daemon: DaemonProcess) -> None:
    """harden_process sets RLIMIT_CORE to 0, so a crash never writes keys or journal text into a core file."""
    assert daemon.proc is not None
    limits = Path(f"/proc/{daemon.proc.pid}/limits").read_text().splitlines()
    core = next(line for line in limits if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"], core


def test_daemon_holds_no_inet_socket(daemon: DaemonProcess) -> None:
    assert daemon.proc is not None
    submit(daemon, rows_with("x"))  # after real work, not just at start
    mine = socket_inodes(daemon.proc.pid)
    assert mine, "the daemon should hold at least its listening Unix socket"
    assert not mine & inet_inodes(daemon.proc.pid)
    unix = {line.split()[6] for line in Path("/proc/net/unix").read_text().splitlines()[1:] if len(line.split()) > 6}
    netlink = {line.split()[-1] for line in Path("/proc/net/netlink").read_text().splitlines()[1:]}
    still_open = mine & socket_inodes(daemon.proc.pid)  # a client's socket may close while we read the tables
    assert still_open <= unix | netlink, "every socket the daemon holds is a Unix (or kernel netlink) socket"


# --- who may talk to it ---------------------------------------------------------------------------------------------
PEER_PROBE = """
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5)
s.connect(sys.argv[1])
hello = bytes([0x83, 0xa4]) + b"type" + bytes([0xa5]) + b"Hello" + bytes([0xa2]) + b"id" + bytes([1]) \
    + bytes([0xa7]) + b"version" + bytes([1])
try:
    s.sendall(struct.pack(">I", len(hello)) + hello)
    data = s.recv(100)
except OSError as e:
    data = b""
print("GOT", len(data))
"""


@pytest.mark.skipif(os.getuid() != 0, reason="dropping to another uid needs root (CI runs as root)")
def test_another_uid_is_refused_before_anything_is_read(daemon: DaemonProcess) -> None:
    """As OpenSSH's regress does it: open the socket to everyone, then connect as another user."""
    parent = daemon.socket_path.parent
    opened = {}
    for d in [parent, *parent.parents]:
        if d == Path("/"):
            break
        opened[d] = stat.S_IMODE(os.lstat(d).st_mode)
        os.chmod(d, os.lstat(d).st_mode | 0o711)  # noqa: S103 - the regress setup, undone below
    os.chmod(daemon.socket_path, 0o666)  # noqa: S103
    probe = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-I",
            "-c",
            PEER_PROBE,
            str(daemon.socket_path),
        ],
        capture_output=True,
        timeout=30,
        text=True,
    )
    assert "GOT 0" in probe.stdout, probe.stdout + probe.stderr  # closed with no Welcome
    assert "refused a connection from another user" in daemon.log()
    os.chmod(daemon.socket_path, 0o600)
    for d, mode in opened.items():
        os.chmod(d, mode)  # our clients, too, refuse a socket directory open to others
    assert daemon.ctl_json("status", "--json")["pid"] == daemon.proc.pid  # type: ignore[union-attr]


# --- the journal: sealed at rest, readable by its owner ---------------------------------------------------------------
def test_canary_readable_by_owner_and_absent_from_disk(daemon: DaemonProcess) -> None:
    canary = f"CANARY{secrets.token_hex(8)}"
    assert submit(daemon, rows_with(canary, 3)) == 3
    tail = daemon.ctl_json_lines("journal", "tail", "-n", "5", "--json")
    assert len(tail) == 3 and all(canary in r["assistant_text"] and canary in r["user_text"] for r in tail)
    assert tail[0]["canonical"] == "(◕‿◕)"
    human = daemon.ctl("journal", "tail").stdout.decode()
    assert "(◕‿◕)" in human
    assert daemon.stop() == 0
    assert scan_for(daemon.root, [canary.encode(), canary.encode("utf-16-le")]) == []
    # The key is in the keyring, and its bytes are nowhere on disk.
    service = daemon.env["LLMOJID_KEYRING_SERVICE"]
    key_id = keyring.get_password(service, store_entry(daemon.env, "active-key"))
    key_b64 = keyring.get_password(service, store_entry(daemon.env, f"data-key:{key_id}"))
    assert key_id and key_b64
    import base64

    raw = base64.b64decode(key_b64)
    assert scan_for(daemon.root, [raw, key_b64.encode()]) == []


def test_duplicate_submissions_are_stored_once(daemon: DaemonProcess) -> None:
    rows = rows_with("dup", 4)
    assert submit(daemon, rows) == 4
    assert submit(daemon, rows) == 0
    assert submit(daemon, rows[:2] + rows_with("dup", 1, start=9)) == 1
    assert daemon.ctl_json("status", "--json")["row_counts"]["journal"] == 5


def test_submit_validates_rows(daemon: DaemonProcess) -> None:
    bad = rows_with("v", 1)
    bad[0].message_id = ""
    with Client(daemon.socket_path) as client, pytest.raises(Exception, match="INVALID_ARGUMENT"):
        client.request(p.SubmitRows(rows=bad))
    with Client(daemon.socket_path) as client, pytest.raises(Exception, match="INVALID_ARGUMENT"):
        client.request(p.SubmitRows(rows=rows_with("v", p.MAX_ROWS_PER_REQUEST + 1)))


# --- restarts -------------------------------------------------------------------------------------------------------
def test_rows_survive_restart_and_kill9(daemon: DaemonProcess) -> None:
    submit(daemon, rows_with("before-stop", 5))
    assert daemon.stop() == 0
    assert not daemon.socket_path.exists(), "the socket file is removed on exit"
    daemon.start()
    acked = 0
    for i in range(40):
        acked += submit(daemon, rows_with("before-kill", 1, start=100 + i))
    daemon.kill9()
    daemon.start()  # the stale socket is recovered
    status = daemon.ctl_json("status", "--json")
    assert status["row_counts"]["journal"] == 5 + acked == 45


def test_kill9_during_a_stream_loses_no_acked_row(daemon: DaemonProcess) -> None:
    """Writers keep submitting while the daemon is killed: every acked row must be there afterwards."""
    script = f"""
import sys
from llmojid.client import protocol as p
from llmojid.client.connection import Client
acked = []
try:
    with Client({str(daemon.socket_path)!r}) as c:
        for i in range(100000):
            row = p.JournalRow(ts="2026-11-01T00:00:00Z", model="m", harness="generic", session="s",
                               message_id=f"k{{i}}", kaomoji="(^_^)", assistant_text=f"t{{i}}")
            c.request(p.SubmitRows(rows=[row]))
            print(i, flush=True)
except Exception:
    pass
"""
    writer = subprocess.Popen(
        [str(Path(LLMOJID).parent / "python"), "-c", script], stdout=subprocess.PIPE, env=daemon.env, text=True
    )
    assert writer.stdout is not None
    seen = 0
    while seen < 30:
        if writer.stdout.readline():
            seen += 1
    daemon.kill9()
    out, _ = writer.communicate(timeout=30)
    acked = {int(x) for x in out.split()} | set(range(seen))
    daemon.start()
    with Client(daemon.socket_path) as client:
        reply = client.request(p.QueryJournal(limit=p.MAX_ROWS_PER_REQUEST))
    assert isinstance(reply, p.Rows)
    stored = {int(r.assistant_text[1:]) for r in reply.rows}
    KILL_TRIALS.record("ingest (SubmitRows)", acked=len(acked), stored=len(acked & stored))
    assert acked <= stored, f"acked but lost: {sorted(acked - stored)[:5]}"
    assert len(stored) == len(reply.rows), "no duplicates"


def test_sigterm_drains_and_removes_socket(daemon: DaemonProcess) -> None:
    assert daemon.stop() == 0
    assert not daemon.socket_path.exists()
    assert "draining" in daemon.log()


def test_ctl_stop_and_unreachable_exit_code(daemon: DaemonProcess) -> None:
    assert daemon.ctl("stop").returncode == 0
    assert daemon.proc is not None and daemon.proc.wait(20) == 0
    result = daemon.ctl("status", check=False)
    assert result.returncode == 3
    assert b"llmojid serve" in result.stderr  # says how to start it


def test_second_daemon_refuses_to_start(daemon: DaemonProcess) -> None:
    other = subprocess.run([LLMOJID, "serve"], env=daemon.env, capture_output=True, timeout=60, text=True)
    assert other.returncode == 1 and "already" in other.stderr


# --- bad input ------------------------------------------------------------------------------------------------------
def test_oversized_length_prefix(daemon: DaemonProcess) -> None:
    with raw_connect(daemon.socket_path) as s:
        s.sendall(p.HEADER.pack(0xFFFFFFFF))
        reply = read_reply(s)
        assert isinstance(reply, p.Error) and reply.code == p.ErrorCode.FRAME_TOO_LARGE
        assert read_reply(s) is None  # closed
    assert daemon.ctl("status").returncode == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"\xc1\xc1\xc1", p.ErrorCode.BAD_MESSAGE),
        (msgspec.msgpack.encode({"type": "QueryJournal", "id": 3, "limit": "lots"}), p.ErrorCode.BAD_MESSAGE),
        (msgspec.msgpack.encode({"type": "Teleport", "id": 3}), p.ErrorCode.UNKNOWN_REQUEST),
    ],
)
def test_bad_frames_get_typed_errors(daemon: DaemonProcess, body: bytes, code: p.ErrorCode) -> None:
    with raw_connect(daemon.socket_path) as s:
        s.sendall(p.HEADER.pack(len(body)) + body)
        reply = read_reply(s)
        assert isinstance(reply, p.Error) and reply.code == code
        assert read_reply(s) is None
    assert daemon.ctl("status").returncode == 0


def test_unknown_named_request_keeps_the_connection(daemon: DaemonProcess) -> None:
    with raw_connect(daemon.socket_path) as s:
        s.sendall(p.encode(p.Request(name="no.such.thing", args={}, id=5)))
        reply = read_reply(s)
        assert isinstance(reply, p.Error) and reply.code == p.ErrorCode.UNKNOWN_REQUEST and reply.id == 5
        s.sendall(p.encode(p.Status(id=6)))
        assert isinstance(read_reply(s), p.StatusReply)


def test_request_before_hello_and_truncated_frame(daemon: DaemonProcess) -> None:
    with raw_connect(daemon.socket_path, hello=False) as s:
        s.sendall(p.encode(p.Status(id=1)))
        reply = read_reply(s)
        assert isinstance(reply, p.Error) and reply.code == p.ErrorCode.HELLO_REQUIRED
    with raw_connect(daemon.socket_path) as s:
        s.sendall(p.encode(p.Status(id=2))[:-2])  # then hang up mid-frame
    assert daemon.ctl("status").returncode == 0


def test_flood_of_connections(daemon: DaemonProcess) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    socks = []
    try:
        refused = 0
        for _ in range(p.MAX_CONNECTIONS + 40):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(daemon.socket_path))  # blocking: waits for backlog room instead of EAGAIN
            s.settimeout(10)
            socks.append(s)
        time.sleep(0.5)
        for s in socks[p.MAX_CONNECTIONS :]:
            reply = read_reply(s)
            if isinstance(reply, p.Error) and reply.code == p.ErrorCode.TOO_MANY_CONNECTIONS:
                refused += 1
        assert refused >= 30
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    deadline = time.monotonic() + 20
    while daemon.ctl("status", check=False).returncode != 0:
        assert time.monotonic() < deadline, "daemon stopped serving after the flood"
        time.sleep(0.2)


def test_error_messages_never_echo_payload(daemon: DaemonProcess) -> None:
    canary = f"CANARY{secrets.token_hex(6)}"
    body = msgspec.msgpack.encode({"type": "SubmitRows", "id": 1, "rows": [{"ts": canary, canary: 1}]})
    with raw_connect(daemon.socket_path) as s:
        s.sendall(p.HEADER.pack(len(body)) + body)
        reply = read_reply(s)
        assert isinstance(reply, p.Error) and canary not in reply.message
    assert canary not in daemon.log()


# --- no keyring -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["no-dbus", "fail-backend"])
def test_refuses_to_start_without_a_keyring(daemon_env: dict[str, str], workdir: Path, how: str) -> None:
    env = dict(daemon_env)
    if how == "no-dbus":
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={workdir}/no-such-bus"
    else:
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    result = subprocess.run([LLMOJID, "serve"], env=env, capture_output=True, timeout=60, text=True)
    assert result.returncode == 1
    assert "keyring" in result.stderr and "gnome-keyring" in result.stderr  # says how to fix it
    state = Path(env["XDG_STATE_HOME"]) / "llmojid"
    assert not state.exists(), "nothing is written without a key"
    assert not (Path(env["XDG_RUNTIME_DIR"]) / "llmojid" / "llmojid.sock").exists()


def test_journal_tail_json_fields(daemon: DaemonProcess) -> None:
    submit(daemon, rows_with("f", 2))
    rows = daemon.ctl_json_lines("journal", "tail", "-n", "1", "--json")
    assert len(rows) == 1
    assert set(rows[0]) >= {"ts", "model", "harness", "kaomoji", "canonical", "user_text", "assistant_text", "cwd"}
    json.dumps(rows[0])
