"""`llmojid-ctl analyze` against a real daemon, its store and the real embedded model.

The journal comes in through the real Claude Code hook (a synthetic transcript, tests/harness_transcripts.py) and
through SubmitRows. Model time is kept small: a handful of cells per daemon.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmojid.client import protocol as p
from llmojid.client.connection import Client
from llmojid.common.lexicon import validate_bag
from tests.harness_transcripts import ClaudeSession, jsonl
from tests.hook_support import run_hook
from tests.support import LLMOJID_CTL, DaemonProcess, scan_for

DATA = Path(__file__).parent / "data" / "synthesis"


def submit(daemon: DaemonProcess, rows: list[p.JournalRow]) -> int:
    with Client(daemon.socket_path) as client:
        reply = client.request(p.SubmitRows(rows=rows))
    assert isinstance(reply, p.HookAck)
    return reply.rows_added


def row(model: str, face: str, n: int, user: str, assistant: str) -> p.JournalRow:
    return p.JournalRow(
        ts=f"2026-11-01T10:00:{n % 60:02d}Z",
        model=model,
        harness="claude-code",
        session="s-analyze",
        message_id=f"{model}-{n}",
        kaomoji=face,
        assistant_text=assistant,
        user_text=user,
        cwd="/tmp/project",
    )


def named(daemon: DaemonProcess, name: str, **args: Any) -> Any:
    with Client(daemon.socket_path, timeout=120) as client:
        reply = client.request(p.Request(name=name, args=args))
    assert isinstance(reply, p.Result)
    return reply.value


#: A per-cell deadline far above what a cell needs, so a slow or busy machine cannot fail a functional test.
GENEROUS = ("--deadline", "600")


def analyze(daemon: DaemonProcess, *args: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run `analyze --json` (generous deadline unless `args` sets one); returns the cell events and the summary."""
    extra = args if "--deadline" in args else (*GENEROUS, *args)
    lines = [json.loads(line) for line in daemon.ctl("analyze", "--json", *extra, timeout=900).stdout.splitlines()]
    assert lines and lines[-1]["event"] == "done"
    cells = lines[:-1]
    assert all(event["event"] == "cell" for event in cells)
    return cells, lines[-1]


def journal_through_the_hook(daemon: DaemonProcess, turns: range) -> ClaudeSession:
    session = ClaudeSession(canary="CANARYHOOK7F3A")
    path = daemon.home / "projects" / f"{session.session}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    for n in turns:
        events, _ = session.turn(n)
        with path.open("ab") as f:
            f.write(jsonl(events))
        result = run_hook(daemon.env, "claude-code", session.stop_payload(str(path)))
        assert result.returncode == 0
    return session


def assert_valid(cells: list[dict[str, Any]]) -> None:
    for event in cells:
        assert event["error"] is None, event
        bag = validate_bag(event["synthesis"])
        assert 1 <= len(bag.primary_affect) <= 3 and 3 <= len(bag.stance_modality_function) <= 5


@pytest.fixture
def hooked(daemon: DaemonProcess) -> Iterator[DaemonProcess]:
    """A daemon whose journal holds two Claude Code turns, written by the real hook: 3 cells."""
    journal_through_the_hook(daemon, range(1, 3))
    yield daemon


@pytest.mark.slow
def test_analyze_caches_and_redoes_only_changed_cells(hooked: DaemonProcess) -> None:
    daemon = hooked
    plan = daemon.ctl_json_lines("analyze", "--dry-run", "--json")
    assert plan[-1]["event"] == "plan" and plan[-1]["total"] == 3 == plan[-1]["to_synthesize"]
    assert plan[-1]["estimate_seconds"] > 0 and plan[-1]["method"] == "scoring"
    assert sorted(c["samples"] for c in plan[:-1]) == [1, 1, 2]
    assert named(daemon, "model.status")["loaded"] is False  # a dry run loads no model

    cells, done = analyze(daemon)
    assert_valid(cells)
    assert (done["total"], done["synthesized"], done["cached"], done["failed"]) == (3, 3, 0, 0)
    assert {c["source_model"] for c in cells} == {"claude-sonnet-4-5"}
    calls = named(daemon, "model.status")["calls"]
    assert calls >= 3  # one per cell, plus one per prompt shape for the calibration priors

    # A second run makes no model call.
    again, done = analyze(daemon)
    assert (done["synthesized"], done["cached"]) == (0, 3)
    assert [c["synthesis"] for c in again] == [c["synthesis"] for c in cells]
    assert named(daemon, "model.status")["calls"] == calls

    # One more row in one cell changes its samples: only that cell is synthesized again.
    bear = next(c for c in cells if c["kaomoji"].startswith("ʕ"))
    assert submit(daemon, [row("claude-sonnet-4-5", "ʕ•ᴥ•ʔ", 1, "rename it", "Renamed, tests pass.")]) == 1
    third, done = analyze(daemon)
    assert (done["synthesized"], done["cached"]) == (1, 2)
    redone = [c for c in third if not c["cached"]]
    assert [c["kaomoji"] for c in redone] == [bear["kaomoji"]] and redone[0]["samples"] == 3
    assert named(daemon, "model.status")["calls"] in (calls + 1, calls + 2)  # a 3-sample shape needs its priors

    # --limit takes the most-used cells first; nothing of the samples leaks into the store's files or the log.
    limited, done = analyze(daemon, "--limit", "1")
    assert done["total"] == 1 and limited[0]["kaomoji"] == bear["kaomoji"]
    assert scan_for(daemon.state_dir, [b"CANARYHOOK7F3A"]) == []
    assert "CANARYHOOK7F3A" not in daemon.log()


def hostile_rows() -> list[p.JournalRow]:
    """The hostile corpus, four samples per cell (one source model per cell), all with one face."""
    cases = [json.loads(line) for line in (DATA / "hostile.jsonl").read_text().splitlines() if line.strip()]
    rows = []
    for index, case in enumerate(cases):
        repeat = int(case.get("repeat", 1))
        rows.append(row(f"hostile-{index // 4}", "(・_・)", index, case["user"] * repeat, case["assistant"] * repeat))
    return rows


@pytest.mark.slow
def test_hostile_samples_never_leave_the_lexicon(daemon: DaemonProcess) -> None:
    """Prompt injection: 34 hostile samples (9 cells) never yield anything outside the lexicon, and no canary
    appears in any output, cache entry (the store's files), bundle, or log."""
    cases = [json.loads(line) for line in (DATA / "hostile.jsonl").read_text().splitlines() if line.strip()]
    canaries = [case["canary"] for case in cases]
    for batch in (hostile_rows()[i : i + 4] for i in range(0, len(cases), 4)):
        submit(daemon, batch)
    result = daemon.ctl("analyze", "--json", *GENEROUS, timeout=1800)
    text = result.stdout.decode() + result.stderr.decode()
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    cells = [event for event in lines if event["event"] == "cell"]
    assert len(cells) == 9 and lines[-1]["synthesized"] + lines[-1]["failed"] == 9
    for event in cells:
        if event["synthesis"] is not None:
            validate_bag(event["synthesis"])
    # Grammar-constrained generation on one cell (instructions to ignore the task, to print the user's text).
    generated = daemon.ctl("analyze", "--json", "--method", "generation", "--limit", "1", *GENEROUS, timeout=900)
    text += generated.stdout.decode() + generated.stderr.decode()
    for event in (json.loads(line) for line in generated.stdout.splitlines()):
        if event["event"] == "cell" and event["synthesis"] is not None:
            validate_bag(event["synthesis"])
    # The bundle is built from the cache: it holds lexicon words, counts and faces only.
    bundle = daemon.ctl("bundle", "build", "--json", timeout=120)
    text += bundle.stdout.decode() + bundle.stderr.decode()
    assert any((daemon.home / ".local" / "share" / "llmojid" / "bundle").glob("hostile-*.jsonl"))
    needles = [c.encode() for c in canaries]
    assert [c for c in canaries if c in text] == []
    assert scan_for(daemon.home, needles) == []  # store, WAL, cache, bundle, config: the whole temporary HOME
    assert [c for c in canaries if c in daemon.log()] == []


def test_model_file_errors_name_the_path(daemon: DaemonProcess, tmp_path: Path) -> None:
    submit(daemon, [row("m", "(◕‿◕)", 1, "hi", "hello")])
    missing = tmp_path / "missing.gguf"
    result = daemon.ctl("analyze", "--model", str(missing), check=False)
    assert result.returncode == 1
    assert str(missing) in result.stderr.decode() and "not found" in result.stderr.decode()
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a model at all" * 64)
    result = daemon.ctl("analyze", "--model", str(garbage), check=False)
    assert result.returncode == 1 and str(garbage) in result.stderr.decode()
    result = daemon.ctl("analyze", "--limit", "-1", check=False)
    assert result.returncode == 2


def test_a_deadline_fails_cells_cleanly_and_the_idle_model_unloads(workdir: Path, daemon_env: dict[str, str]) -> None:
    daemon = DaemonProcess(workdir, {**daemon_env, "LLMOJID_MODEL_IDLE_UNLOAD_SECONDS": "0.5"}).start()
    try:
        submit(daemon, [row("m", "(◕‿◕)", 1, "hi", "hello"), row("m", "(╥﹏╥)", 2, "oops", "Sorry, my mistake.")])
        cells, done = analyze(daemon, "--deadline", "0.001")
        assert (done["failed"], done["synthesized"]) == (2, 0)
        assert all(c["synthesis"] is None and c["error"] == "deadline exceeded" for c in cells)
        assert daemon.ctl_json_lines("analyze", "--dry-run", "--json")[-1]["to_synthesize"] == 2  # nothing stored
        status = named(daemon, "model.status")
        assert status["load_count"] == 1 and status["idle_unload_seconds"] == 0.5
        deadline = time.monotonic() + 30
        # The status flips before the log line is written: wait for both.
        while named(daemon, "model.status")["loaded"] or "unloaded the idle model" not in daemon.log():
            assert time.monotonic() < deadline, "the idle model was not unloaded"
            time.sleep(0.1)
    finally:
        assert daemon.stop() == 0, daemon.log()


@pytest.mark.parametrize("inherited", [signal.SIG_DFL, signal.SIG_IGN], ids=["sigint-default", "sigint-ignored"])
def test_ctrl_c_cancels_the_job_in_the_daemon(daemon: DaemonProcess, inherited: signal.Handlers) -> None:
    """The CLI is given a known SIGINT disposition (the test runner's own may be anything: a suite started with
    `cmd &` from a script ignores SIGINT for the whole tree); ignored is how such a shell starts it, and Ctrl-C must
    still cancel, because ``analyze`` installs its own handler."""
    submit(daemon, [row(f"m{i}", "(◕‿◕)", i, "explain this " * 40, "Here is why. " * 80) for i in range(6)])
    cli = subprocess.Popen(
        [LLMOJID_CTL, "analyze", "--json"],
        env=daemon.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, inherited),
    )
    try:
        deadline = time.monotonic() + 120
        while named(daemon, "model.status").get("calls", 0) == 0:  # the first model call has started
            assert time.monotonic() < deadline and cli.poll() is None
            time.sleep(0.05)
        cli.send_signal(signal.SIGINT)
        assert cli.wait(30) == 130
    finally:
        if cli.poll() is None:
            cli.kill()
    deadline = time.monotonic() + 30
    while "analyze cancelled: the client went away" not in daemon.log():
        assert time.monotonic() < deadline, daemon.log()
        time.sleep(0.05)
    # The job is gone: its lock is free (a plan answers), and it stopped making calls.
    calls = named(daemon, "model.status")["calls"]
    plan = named(daemon, "analyze.plan")
    assert plan["to_synthesize"] >= 5
    time.sleep(1.0)
    assert named(daemon, "model.status")["calls"] == calls


def _open_files(pid: int) -> int:
    """Descriptors of the process that are not sockets (sockets come and go with clients)."""
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if not os.readlink(fd).startswith("socket:"))


def test_model_load_and_unload_cycles_leak_no_descriptors(workdir: Path, daemon_env: dict[str, str]) -> None:
    """A long-running daemon loads and unloads the model many times: each cycle must give back what it took.

    (The first load leaves two /dev/null handles that llama-cpp-python keeps; they do not grow after it.)
    """
    daemon = DaemonProcess(workdir, {**daemon_env, "LLMOJID_MODEL_IDLE_UNLOAD_SECONDS": "0.5"}).start()
    assert daemon.proc is not None
    try:
        after_unload = []
        for cycle in range(3):
            submit(daemon, [row(f"cycle-{cycle}", "(◕‿◕)", cycle, "hi", "All good.")])  # a new cell each time
            _, done = analyze(daemon)
            assert done["synthesized"] == 1
            deadline = time.monotonic() + 30
            # The status flips before the unload has finished and logged: wait for both.
            while named(daemon, "model.status")["loaded"] or daemon.log().count("unloaded the idle model") <= cycle:
                assert time.monotonic() < deadline, "the idle model was not unloaded"
                time.sleep(0.1)
            after_unload.append(_open_files(daemon.proc.pid))
        assert named(daemon, "model.status")["load_count"] == 3
        assert after_unload == [after_unload[0]] * 3, after_unload
    finally:
        assert daemon.stop() == 0, daemon.log()
