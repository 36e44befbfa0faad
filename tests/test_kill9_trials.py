"""``kill -9`` at random points of ingest, analyze, typing and import (issues 8 and 15): nothing acknowledged is lost.

Each trial kills the real daemon with SIGKILL at a stratified random point inside the work (the work's length is
measured first, as the rotation test does), restarts it, and counts what was acknowledged before the kill against
what the restarted daemon holds (``tests/kill_tally.py``; the end of the run prints the table).

* Ingest (18 trials on one daemon): two protocol clients send ``HookEvent`` requests (one generic, one Hermes
  payload each), while two threads run the real hook script (same two harnesses) over and over. A ``HookAck`` is
  the daemon's promise that the rows are committed; a hook call that exited has either been acked or spooled
  durably (sealed) for the next daemon to drain. After the restart and the drain, every acked or exited item is in
  the journal exactly once, and the request that was in flight at the kill, sent again, is stored once too (it may
  have been committed without an ack: the message-id key must absorb the copy).
* Analyze (12 trials on one daemon, the embedded SmolLM2 model): ``llmojid-ctl analyze --json`` runs as a
  subprocess; a ``cell`` event with a synthesis that was not cached is sent only after the bag is committed, so
  after the restart ``analyze.plan`` must report every such cell cached, no journal row may be lost, and at the
  end a full run must give each one back from the cache with the very bag that was streamed. Fresh work per
  trial: before each trial the journal is topped up with new one-row cells (a new source model each) until exactly
  ``ANALYZE_CELLS`` cells are uncached (cells a kill left unfinished count towards those), so every run does the
  same amount of model work and the kill points can be spread over it.

* Typing (26 trials on one daemon): the real ``llmojid-ctl wrap -- cat`` on a pty, typed into line after line,
  beside two protocol writers of prompt windows (one ``Keystrokes`` batch per window, closed by its Enter: its row
  is committed before the ``Ok``). After the restart every acknowledged window is stored (the one in flight at most
  once more); ``wrap`` kept its program running through the kill (a line typed after it comes back from ``cat``)
  and exited with its status; there are never more wrap windows than Enters typed. Windows are short (under the
  encoder's minimum), so no trial pays for torch.
* Import (26 trials on one daemon): ``journal.import`` of fresh Claude Code histories (a model name per trial) from
  a protocol client; each progress frame's ``rows_new`` counts rows committed before it was sent. After the restart
  at least those rows are stored, and importing again completes the journal with every row exactly once.

Runtime on the 2-core test machine (shared): about 30 s for ingest, about 60 s for analyze (most of it model time),
about 110 s for typing (a daemon restart and a ``wrap`` start per trial), about 90 s for import.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llmojid.client import protocol as p
from llmojid.client.connection import Client, DaemonError, DaemonUnreachable
from tests.harness_transcripts import ClaudeSession, jsonl
from tests.hook_support import journal_rows, run_hook, spool_files, start, wait_spool_drained
from tests.kill_tally import KILL_TRIALS
from tests.support import LLMOJID_CTL, DaemonProcess
from tests.test_audit_helpers import audit, db, failures, request, submit
from tests.test_keystroke_daemon import Terminal

FACE = "(◕‿◕)"
HARNESSES = ("generic", "hermes")

INGEST_TRIALS = 18
#: HookEvent requests per protocol client per trial, and real hook runs per hook thread per trial: about the
#: same time each on the test machine (a hook run is a fresh interpreter), so a kill can cut both short.
API_ITEMS = 150
HOOK_ITEMS = 8

ANALYZE_TRIALS = 12
#: Uncached cells per analyze run: with the model load, a run takes a few seconds.
ANALYZE_CELLS = 3
#: Ingest kill points spread over this multiple of the measured round, so a trial or two sees the round finished.
SPREAD = 1.1
#: Analyze kill points spread over this many stretches of a run (start to first cell, then cell to cell; the last
#: quarter stretch lies past the run's end).
ANALYZE_STRETCHES = ANALYZE_CELLS + 0.25


# --- ingest ----------------------------------------------------------------------------------------------------------
def _tag(trial: int, writer: str, item: int) -> str:
    return f"k9t{trial}-{writer}-{item}"


def _payload(harness: str, trial: int, writer: str, item: int) -> bytes:
    """A one-message payload of ``harness`` whose stored assistant text ends with the item's tag."""
    text = f"{FACE} stored {_tag(trial, writer, item)}"
    if harness == "generic":  # no message id: the adapter derives one from the text (so a spooled copy matches)
        return json.dumps({"model": "m", "cwd": "/w", "user_text": "go", "assistant_text": text}).encode()
    history = [{"role": "user", "content": "go"}, {"role": "assistant", "content": text}]
    return json.dumps(
        {
            "hook_event_name": "post_llm_call",
            "session_id": f"k9-{trial}-{writer}",
            "cwd": "/w",
            "extra": {"user_message": "go", "model": "hermes-m", "conversation_history": history},
        }
    ).encode()


@dataclass
class Writer:
    """One concurrent writer of a trial: what it sent, what was acknowledged, what was in flight at the kill."""

    name: str
    harness: str
    via_hook: bool
    items: int
    done: list[int] = field(default_factory=list)
    in_flight: int | None = None
    errors: list[str] = field(default_factory=list)

    def run(self, proc: DaemonProcess, trial: int) -> None:
        try:
            if self.via_hook:
                self._run_hook(proc, trial)
            else:
                self._run_client(proc, trial)
        except Exception as exc:  # reported by the test after the join
            self.errors.append(f"{self.name}: {exc!r}")

    def _run_client(self, proc: DaemonProcess, trial: int) -> None:
        try:
            with Client(proc.socket_path, timeout=30) as client:
                for i in range(self.items):
                    self.in_flight = i
                    reply = client.request(
                        p.HookEvent(harness=self.harness, payload=_payload(self.harness, trial, self.name, i))
                    )
                    assert isinstance(reply, p.HookAck) and reply.rows_added == 1, reply
                    self.done.append(i)
                    self.in_flight = None
        except (DaemonUnreachable, DaemonError, p.ProtocolError, OSError):
            pass  # the kill: done holds what was acked; in_flight (if any) is unknown

    def _run_hook(self, proc: DaemonProcess, trial: int) -> None:
        expected = b"{}\n" if self.harness == "hermes" else b""
        for i in range(self.items):  # the hook never fails: before the kill it is acked, after it spools
            result = run_hook(proc.env, self.harness, _payload(self.harness, trial, self.name, i))
            assert (result.returncode, result.stdout, result.stderr) == (0, expected, b""), result
            self.done.append(i)


def _writers() -> list[Writer]:
    return [
        *(Writer(f"a{h[0]}", h, False, API_ITEMS) for h in HARNESSES),
        *(Writer(f"h{h[0]}", h, True, HOOK_ITEMS) for h in HARNESSES),
    ]


def _launch(proc: DaemonProcess, trial: int) -> tuple[list[Writer], list[threading.Thread]]:
    writers = _writers()
    threads = [threading.Thread(target=w.run, args=(proc, trial), daemon=True) for w in writers]
    for thread in threads:
        thread.start()
    return writers, threads


def _stored(proc: DaemonProcess, trial: int) -> Counter[str]:
    """How often each item tag of ``trial`` is in the journal (both harnesses)."""
    prefix = f"k9t{trial}-"
    return Counter(
        r.assistant_text.split()[-1]
        for harness in HARNESSES
        for r in journal_rows(proc, harness)
        if r.assistant_text.split()[-1].startswith(prefix)
    )


def _check_trial(proc: DaemonProcess, trial: int, writers: list[Writer]) -> tuple[int, int]:
    """Every acked (or, for the hook, exited) item stored exactly once; returns (acked, of them stored)."""
    stored = _stored(proc, trial)
    acked = [_tag(trial, w.name, i) for w in writers for i in w.done]
    unsent = [_tag(trial, w.name, i) for w in writers for i in range(w.items) if i not in w.done and i != w.in_flight]
    assert [t for t in acked if stored[t] != 1] == [], f"trial {trial}: acked items lost or doubled"
    assert [t for t in unsent if stored[t]] == [], f"trial {trial}: an item never sent is stored"
    assert all(n == 1 for n in stored.values()), f"trial {trial}: duplicates {stored.most_common(3)}"
    return len(acked), sum(1 for t in acked if stored[t] == 1)


def _resend_in_flight(proc: DaemonProcess, trial: int, writers: list[Writer]) -> int:
    """Send again what was in flight at the kill; returns how many of those the store already held."""
    already = 0
    with Client(proc.socket_path) as client:
        for w in writers:
            if not w.via_hook and w.in_flight is not None:
                payload = _payload(w.harness, trial, w.name, w.in_flight)
                reply = client.request(p.HookEvent(harness=w.harness, payload=payload))
                assert isinstance(reply, p.HookAck) and reply.rows_added in (0, 1)
                already += 1 - reply.rows_added
                w.done.append(w.in_flight)
                w.in_flight = None
    return already


@pytest.mark.slow
def test_ingest_killed_with_kill9_at_random_points_loses_and_doubles_nothing(daemon: DaemonProcess) -> None:
    # Calibrate: how long one round of the four writers takes here, uninterrupted.
    started = time.monotonic()
    writers, threads = _launch(daemon, 0)
    for thread in threads:
        thread.join(120)
    duration = time.monotonic() - started
    assert [e for w in writers for e in w.errors] == []
    assert _check_trial(daemon, 0, writers) == (2 * (API_ITEMS + HOOK_ITEMS),) * 2
    assert spool_files(daemon) == []  # a live daemon acks every hook call: nothing spooled
    rng = random.Random()
    api_acked: list[int] = []
    outcomes = {"hook calls spooled": 0, "hook calls acked": 0, "in flight, committed unacked": 0, "in flight": 0}
    for trial in range(1, INGEST_TRIALS + 1):
        started = time.monotonic()
        writers, threads = _launch(daemon, trial)
        time.sleep(
            max(0.0, started + duration * SPREAD * (trial - 1 + rng.random()) / INGEST_TRIALS - time.monotonic())
        )
        daemon.kill9()
        for thread in threads:
            thread.join(120)  # hook calls after the kill find no daemon: they spool
        assert [e for w in writers for e in w.errors] == []
        spooled = len(spool_files(daemon))
        outcomes["hook calls spooled"] += spooled
        outcomes["hook calls acked"] += 2 * HOOK_ITEMS - spooled
        start(daemon)
        wait_spool_drained(daemon)
        outcomes["in flight"] += sum(1 for w in writers if not w.via_hook and w.in_flight is not None)
        api_acked.append(sum(len(w.done) for w in writers if not w.via_hook))
        # The tally counts what was acked (or spooled) before the kill; the resent items are checked on top.
        acked, stored = _check_trial(daemon, trial, writers)
        KILL_TRIALS.record("ingest (hook events)", acked=acked, stored=stored)
        outcomes["in flight, committed unacked"] += _resend_in_flight(daemon, trial, writers)
        _check_trial(daemon, trial, writers)
    print(f"ingest kill -9 over {INGEST_TRIALS} trials (a round takes {duration:.2f}s): {outcomes}; acked {api_acked}")
    # The kills fell inside the work: protocol clients were cut short at varying points, hooks had to spool.
    assert min(api_acked) < 2 * API_ITEMS and len(set(api_acked)) >= 3, api_acked
    assert outcomes["hook calls spooled"] > 0 and outcomes["hook calls acked"] > 0, outcomes
    code, report, _ = audit(daemon, "--log", str(daemon.log_path))
    assert code == 0, failures(report)


# --- analyze ---------------------------------------------------------------------------------------------------------
def _journal_count(proc: DaemonProcess) -> int:
    with Client(proc.socket_path) as client:
        reply = client.request(p.Status())
    assert isinstance(reply, p.StatusReply)
    return int(reply.row_counts["journal"])


def _plan(proc: DaemonProcess) -> dict[str, Any]:
    plan = request(proc, "analyze.plan")
    assert isinstance(plan, dict)
    return plan


def _top_up(proc: DaemonProcess, next_cell: int) -> int:
    """Add one-row cells (a new source model each) until ANALYZE_CELLS cells are uncached; returns the next id."""
    missing = ANALYZE_CELLS - int(_plan(proc)["to_synthesize"])
    assert missing >= 0
    new = [
        p.JournalRow(
            ts="2026-11-01T10:00:00Z",
            model=f"k9-src-{n}",
            harness="generic",
            session="k9-analyze",
            message_id=f"k9-cell-{n}",
            kaomoji=FACE,
            assistant_text="Fixed it, the tests pass now.",
            user_text="please fix the failing test",
        )
        for n in range(next_cell, next_cell + missing)
    ]
    if new:
        assert submit(proc, new) == len(new)
    return next_cell + missing


class AnalyzeRun:
    """``llmojid-ctl analyze --json`` in a subprocess; a thread reads its JSON lines as they come, noting when each
    synthesized (not cached) cell arrived, so a kill can be placed between or inside cells."""

    def __init__(self, proc: DaemonProcess) -> None:
        self.started = time.monotonic()
        self.cli = subprocess.Popen(
            [LLMOJID_CTL, "analyze", "--json", "--deadline", "600"],
            env=proc.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.lines: list[dict[str, Any]] = []
        self.fresh_at: list[float] = []  # arrival times of the cells synthesized in this run
        self.closed = False
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.cli.stdout is not None
        for line in self.cli.stdout:
            if line.strip():
                event = json.loads(line)
                with self.changed:
                    self.lines.append(event)
                    if event["event"] == "cell" and not event["cached"]:
                        self.fresh_at.append(time.monotonic())
                    self.changed.notify_all()
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    def after_fresh_cells(self, k: int) -> float:
        """Wait until ``k`` cells were synthesized (or the CLI ended); the time the k-th arrived (k=0: the start)."""
        with self.changed:
            assert self.changed.wait_for(lambda: self.closed or len(self.fresh_at) >= k, timeout=600)
            return self.started if k == 0 or not self.fresh_at else self.fresh_at[min(k, len(self.fresh_at)) - 1]

    def events(self) -> list[dict[str, Any]]:
        """Everything the CLI printed (it exits on its own once the daemon is gone or the run is done)."""
        self.cli.wait(600)
        self.reader.join(60)
        assert self.closed
        return self.lines


def _acked(events: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """The cells synthesized (not cached) and streamed: each one was committed before its event was sent."""
    assert all(e["event"] in ("cell", "done") for e in events), events
    assert all(e.get("error") is None for e in events if e["event"] == "cell"), events
    return {
        (e["source_model"], e["kaomoji"]): e["synthesis"]
        for e in events
        if e["event"] == "cell" and not e["cached"] and e["synthesis"] is not None
    }


@pytest.mark.slow
def test_analyze_killed_with_kill9_at_random_points_keeps_every_streamed_cell(daemon: DaemonProcess) -> None:
    next_cell = _top_up(daemon, 0)
    # Calibrate on a fresh daemon (so the model load is in it, as after every restart): how long each stretch of a
    # run takes, from the start to the first synthesized cell (CLI start, model load, priors, first cell), then
    # from one cell to the next.
    calibration = AnalyzeRun(daemon)
    events = calibration.events()
    assert len(_acked(events)) == ANALYZE_CELLS and events[-1]["event"] == "done"
    marks = [calibration.started, *calibration.fresh_at]
    stretches = [b - a for a, b in itertools.pairwise(marks)]
    stretches.append(sum(stretches[1:]) / (ANALYZE_CELLS - 1))  # after the last cell: the run is ending
    assert daemon.stop() == 0
    start(daemon)  # every trial then starts as it does after a kill: no model loaded yet
    rng = random.Random()
    streamed: dict[tuple[str, str], Any] = {}
    acked_counts: list[int] = []
    finished = 0
    for trial in range(ANALYZE_TRIALS):
        next_cell = _top_up(daemon, next_cell)
        rows_before = _journal_count(daemon)
        # Stratified random points over the run, counted in stretches rather than seconds (the shared machine's
        # speed varies from run to run): k whole stretches, then a random part of the next one.
        point = (trial + rng.random()) / ANALYZE_TRIALS * ANALYZE_STRETCHES
        k = int(point)
        run = AnalyzeRun(daemon)
        anchor = run.after_fresh_cells(k)
        time.sleep(max(0.0, anchor + (point - k) * stretches[k] - time.monotonic()))
        daemon.kill9()
        events = run.events()
        acked = _acked(events)
        finished += bool(events) and events[-1]["event"] == "done"
        start(daemon)  # waits until the daemon answers
        cached = {(c["source_model"], c["kaomoji"]) for c in _plan(daemon)["cells"] if c["cached"]}
        KILL_TRIALS.record("analyze (cells)", acked=len(acked), stored=len(acked.keys() & cached))
        assert acked.keys() <= cached, f"trial {trial}: streamed cells not cached after the restart"
        assert _journal_count(daemon) == rows_before, f"trial {trial}: journal rows lost"
        acked_counts.append(len(acked))
        streamed |= acked
    stretch_text = ", ".join(f"{s:.1f}" for s in stretches)
    print(
        f"analyze kill -9 over {ANALYZE_TRIALS} trials (stretches of a run: {stretch_text} s): cells acked "
        f"{acked_counts}, {finished} runs finished before the kill"
    )
    # The kills fell inside the work: some runs were cut before their last cell, and not all at the same point.
    assert min(acked_counts) < ANALYZE_CELLS and len(set(acked_counts)) > 1, acked_counts
    # A full run now gives every streamed cell back from the cache, with the very bag that was streamed.
    final = AnalyzeRun(daemon).events()
    assert final[-1]["event"] == "done" and final[-1]["failed"] == 0
    from_cache = {(e["source_model"], e["kaomoji"]): e["synthesis"] for e in final[:-1] if e["cached"]}
    assert {k: from_cache.get(k) for k in streamed} == streamed
    code, report, _ = audit(daemon, "--log", str(daemon.log_path))
    assert code == 0, failures(report)


# --- typing: wrap and typing windows --------------------------------------------------------------------------------
TYPING_TRIALS = 26
#: Windows per protocol writer per trial (one Keystrokes batch each, closed by its Enter): about a second here.
TYPING_WINDOWS = 80
TYPING_WRITERS = 2
#: What the typist types into ``wrap -- cat``: five keys and Enter, a short window (never encoded: no torch).
WRAP_LINE = b"ab cd\r"
WRAP_KEY_GAP = 0.01


def _window_events(item: int) -> list[p.KeyEvent]:
    """One short prompt window: six characters, a space, Enter, 40 ms apart."""
    base = 1_000.0 * item
    classes = [p.KeyClass.CHAR] * 6 + [p.KeyClass.SPACE, p.KeyClass.ENTER]
    return [p.KeyEvent(base + 40.0 * i, None, int(c)) for i, c in enumerate(classes)]


@dataclass
class TypingWriter:
    """A protocol client sending windows as an editor plugin would; each Ok means its window row is committed."""

    kind: str
    done: list[int] = field(default_factory=list)
    in_flight: int | None = None
    errors: list[str] = field(default_factory=list)

    def run(self, proc: DaemonProcess) -> None:
        try:
            with Client(proc.socket_path, timeout=30) as client:
                for i in range(TYPING_WINDOWS):
                    self.in_flight = i
                    reply = client.request(p.Keystrokes(source=f"{self.kind}/k9", events=_window_events(i)))
                    assert isinstance(reply, p.Ok), reply
                    self.done.append(i)
                    self.in_flight = None
        except (DaemonUnreachable, DaemonError, p.ProtocolError, OSError):
            pass  # the kill
        except Exception as exc:
            self.errors.append(repr(exc))


class WrapTypist:
    """The real ``llmojid-ctl wrap -- cat`` on a pty, typed into line after line until told to stop."""

    def __init__(self, proc: DaemonProcess) -> None:
        self.terminal = Terminal.open()
        self.wrap = self.terminal.run([LLMOJID_CTL, "wrap", "--", "cat"], proc.env)
        self.terminal.wait_raw()
        self.lines = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._type, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _type(self) -> None:
        while not self.stop.is_set():
            self.terminal.type(WRAP_LINE, WRAP_KEY_GAP)
            self.lines += 1

    def finish(self) -> None:
        """Stop typing; the program must still be there: one more line after the kill, then ^D, exit 0."""
        self.stop.set()
        self.thread.join(30)
        self._wait_quiet()  # cat's answer to the last line must not interleave with the echo of the next
        marker = f"after-kill-{random.randrange(10**9)}".encode()
        try:
            self.terminal.type(marker + b"\r", WRAP_KEY_GAP)
            self.lines += 1
            deadline = time.monotonic() + 30
            while bytes(self.terminal.screen).count(marker) < 2:  # echoed by the pty and written back by cat
                assert time.monotonic() < deadline, (
                    f"the program stopped getting keys: {bytes(self.terminal.screen)[-400:]!r}"
                )
                time.sleep(0.05)
            self.terminal.type(b"\x04")
            assert self.wrap.wait(30) == 0, "wrap did not end with its program's status"
        finally:
            self.terminal.close()

    def _wait_quiet(self, quiet: float = 0.3, limit: float = 10.0) -> None:
        deadline = time.monotonic() + limit
        size = -1
        while len(self.terminal.screen) != size and time.monotonic() < deadline:
            size = len(self.terminal.screen)
            time.sleep(quiet)


def _windows_by_source(proc: DaemonProcess) -> Counter[str]:
    conn = db(proc)
    try:
        return Counter(dict(conn.execute("SELECT source, count(*) FROM typing_window GROUP BY source").fetchall()))
    finally:
        conn.close()


def _typing_round(
    proc: DaemonProcess, trial: int, typist: WrapTypist
) -> tuple[list[TypingWriter], list[threading.Thread]]:
    """Start typing into the (already started) wrap and the protocol writers, all at once."""
    writers = [TypingWriter(f"k9t{trial}w{w}") for w in range(TYPING_WRITERS)]
    threads = [threading.Thread(target=w.run, args=(proc,), daemon=True) for w in writers]
    typist.start()
    for thread in threads:
        thread.start()
    return writers, threads


@pytest.mark.slow
def test_typing_killed_with_kill9_at_random_points_keeps_every_acked_window(daemon: DaemonProcess) -> None:
    """The real ``wrap`` typing into ``cat`` and two protocol writers of prompt windows, killed at random points:
    every window whose batch was acknowledged is stored after the restart (the one in flight at most once more),
    ``wrap`` keeps its program running and exits with its status, and no more wrap windows exist than Enters."""
    typist = WrapTypist(daemon)  # its start (an interpreter, raw mode) is not part of the measured round
    started = time.monotonic()
    writers, threads = _typing_round(daemon, 0, typist)
    for thread in threads:
        thread.join(120)
    duration = time.monotonic() - started
    typist.finish()
    assert [e for w in writers for e in w.errors] == []
    counts = _windows_by_source(daemon)
    assert [counts[w.kind] for w in writers] == [TYPING_WINDOWS] * TYPING_WRITERS
    rng = random.Random()
    acked_per_trial: list[int] = []
    wrap_windows = counts["wrap"]
    for trial in range(1, TYPING_TRIALS + 1):
        before = _windows_by_source(daemon)
        typist = WrapTypist(daemon)
        started = time.monotonic()
        writers, threads = _typing_round(daemon, trial, typist)
        time.sleep(
            max(0.0, started + duration * SPREAD * (trial - 1 + rng.random()) / TYPING_TRIALS - time.monotonic())
        )
        daemon.kill9()
        for thread in threads:
            thread.join(120)
        typist.finish()  # wrap outlives the daemon
        assert [e for w in writers for e in w.errors] == []
        start(daemon)
        after = _windows_by_source(daemon)
        acked = sum(len(w.done) for w in writers)
        for w in writers:
            stored = after[w.kind]
            assert len(w.done) <= stored <= len(w.done) + (w.in_flight is not None), (trial, w.kind, stored, w)
        KILL_TRIALS.record(
            "typing (windows)", acked=acked, stored=sum(min(after[w.kind], len(w.done)) for w in writers)
        )
        assert after["wrap"] - before["wrap"] <= typist.lines, "more wrap windows than Enters typed"
        wrap_windows += after["wrap"] - before["wrap"]
        acked_per_trial.append(acked)
    print(f"typing kill -9 over {TYPING_TRIALS} trials (a round takes {duration:.2f}s): acked {acked_per_trial}")
    total = TYPING_WRITERS * TYPING_WINDOWS
    assert min(acked_per_trial) < total and len(set(acked_per_trial)) >= 3, acked_per_trial
    assert wrap_windows > 0, "wrap delivered no window at all"
    code, report, _ = audit(daemon, "--log", str(daemon.log_path))
    assert code == 0, failures(report)


# --- import ----------------------------------------------------------------------------------------------------------
IMPORT_TRIALS = 26
#: Claude Code session files per trial, and turns (two journal rows each) per file: one commit per file at least.
IMPORT_FILES = 48
IMPORT_TURNS = 10


def _write_sessions(proc: DaemonProcess, trial: int) -> tuple[Path, int]:
    """This trial's session histories (a model name of their own); returns their folder and the rows they hold."""
    folder = proc.home / ".claude" / "projects" / f"k9-import-{trial}"
    folder.mkdir(parents=True)
    rows = 0
    for f in range(IMPORT_FILES):
        session = ClaudeSession(session=str(uuid.uuid4()), model=f"k9-import-{trial}", canary=f"k9i{trial}-{f}")
        events: list[dict[str, Any]] = []
        for turn in range(IMPORT_TURNS):
            more, expected = session.turn(turn)
            events += more
            rows += len(expected)
        (folder / f"{session.session}.jsonl").write_bytes(jsonl(events))
    return folder, rows


def _rows_of_model(proc: DaemonProcess, model: str) -> int:
    conn = db(proc)
    try:
        return int(conn.execute("SELECT count(*) FROM journal WHERE model = ?", (model,)).fetchone()[0])
    finally:
        conn.close()


class ImportRun:
    """``journal.import`` from a protocol client in a thread; each progress frame's ``rows_new`` counts rows the
    daemon committed before sending it."""

    def __init__(self, proc: DaemonProcess) -> None:
        self.acked = 0
        self.finished = False
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._run, args=(proc,), daemon=True)
        self.thread.start()

    def _progress(self, event: dict[str, object]) -> None:
        new = event.get("rows_new")
        if isinstance(new, int):
            self.acked = max(self.acked, new)

    def _run(self, proc: DaemonProcess) -> None:
        try:
            with Client(proc.socket_path, timeout=120) as client:
                client.request(p.Request(name="journal.import", args={"harness": "claude-code"}), self._progress)
            self.finished = True
        except (DaemonUnreachable, DaemonError, p.ProtocolError, OSError):
            pass  # the kill
        except Exception as exc:
            self.errors.append(repr(exc))

    def join(self) -> ImportRun:
        self.thread.join(120)
        assert not self.thread.is_alive() and self.errors == []
        return self


@pytest.mark.slow
def test_import_killed_with_kill9_at_random_points_stores_each_row_once(daemon: DaemonProcess) -> None:
    """``import`` of Claude Code histories killed at random points: every row it reported committed is stored after
    the restart, and importing again completes the journal with each row exactly once."""
    folder, expected = _write_sessions(daemon, 0)
    started = time.monotonic()
    run = ImportRun(daemon).join()
    duration = time.monotonic() - started
    assert run.finished and run.acked == expected == _rows_of_model(daemon, "k9-import-0")
    shutil.rmtree(folder)
    rng = random.Random()
    acked_per_trial: list[int] = []
    for trial in range(1, IMPORT_TRIALS + 1):
        folder, expected = _write_sessions(daemon, trial)
        model = f"k9-import-{trial}"
        started = time.monotonic()
        run = ImportRun(daemon)
        time.sleep(
            max(0.0, started + duration * SPREAD * (trial - 1 + rng.random()) / IMPORT_TRIALS - time.monotonic())
        )
        daemon.kill9()
        run.join()
        start(daemon)
        present = _rows_of_model(daemon, model)
        KILL_TRIALS.record("import (rows)", acked=run.acked, stored=min(run.acked, present))
        assert run.acked <= present <= expected, (trial, run.acked, present, expected)
        again = ImportRun(daemon).join()
        assert again.finished and again.acked == expected - present, (trial, again.acked, expected, present)
        assert _rows_of_model(daemon, model) == expected, f"trial {trial}: rows lost or doubled"
        acked_per_trial.append(run.acked)
        shutil.rmtree(folder)
    print(f"import kill -9 over {IMPORT_TRIALS} trials (an import takes {duration:.2f}s): acked {acked_per_trial}")
    assert min(acked_per_trial) < expected and len(set(acked_per_trial)) >= 3, acked_per_trial
    code, report, _ = audit(daemon, "--log", str(daemon.log_path))
    assert code == 0, failures(report)
