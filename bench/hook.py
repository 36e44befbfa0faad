"""The hook's cost per call, on Claude Code transcripts of 10, 1,000 and 5,000 turns, next to the interpreter floor.

    dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null;
                               .venv/bin/python bench/hook.py'

Each measured call is what a harness does on a turn: append the turn to the transcript, then run
``sh hooks/claude-code`` with the Stop payload on stdin, and wait for it to exit. Wall time is process start to
exit; peak memory is the process's maximum RSS (GNU time's ``%M``; the ``sh`` wrapper execs into the hook, so it
is one process). The floor is a bare ``python -I -c pass`` of the same interpreter, measured interleaved with the hook
calls so that both see the same machine load. Before the timed calls, one untimed call lets the daemon read the
existing transcript once (printed as "first read"): after that, every call reads only the turn just appended, so
the time must not grow with the transcript. The hook's default ack budget (300 ms) is kept: a call that missed it
would have spooled, and the spooled count is printed.

Also measured: the spool path (daemon stopped: the hook seals the payload to the daemon's key and writes it), and
Gemini CLI's ``AfterAgent`` hook (``sh hooks/gemini``) on chat files of 10 and 5,000 turns, each with a
``--resume`` rewrite of the whole history halfway, interleaved with the others.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness_transcripts import ClaudeSession, GeminiSession, OpenCodeSession, jsonl
from tests.hook_support import HOOKS, spool_files, start
from tests.support import LLMOJID_CTL, DaemonProcess, make_env, remove_tree, short_tempdir

SIZES = (10, 1_000, 5_000)
#: Gemini CLI chat files measured (turns).
GEMINI_SIZES = (10, 5_000)


GNU_TIME = "/usr/bin/time"


def timed(command: list[str], payload: bytes, env: dict[str, str]) -> tuple[float, int, float]:
    """(wall ms, peak RSS KiB, CPU ms) of one process run to exit.

    RSS and CPU time (user + system: less sensitive to other load on the machine than wall time) come from GNU
    time wrapped around the command: a child forked from this benchmark would report this process's pages as its
    own. Floor and hook calls get the same wrapper; without GNU time both are reported as 0.
    """
    with tempfile.NamedTemporaryFile(prefix="ljb-rss-") as out:
        wrapped = [GNU_TIME, "-f", "%M %U %S", "-o", out.name, *command] if os.path.exists(GNU_TIME) else command
        start_ns = time.perf_counter_ns()
        subprocess.run(wrapped, input=payload, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        elapsed = (time.perf_counter_ns() - start_ns) / 1e6
        fields = (Path(out.name).read_text().strip().splitlines() or ["0 0 0"])[-1].split()
    return elapsed, int(fields[0]), (float(fields[1]) + float(fields[2])) * 1000


def gemini_chat(root: Path, size: int) -> tuple[GeminiSession, Path]:
    """A Gemini CLI chat file of ``size`` turns with a ``--resume`` rewrite of the history after half of them."""
    session = GeminiSession(session=f"bench-gemini-{size}")
    path = root / f"session-gemini-{size}.jsonl"
    with path.open("wb") as f:
        f.write(jsonl(session.header()))
        for n in range(1, size + 1):
            f.write(jsonl(session.turn(n)[0]))
            if n == size // 2:
                f.write(jsonl(session.resume()))
    return session, path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed calls per transcript size")
    args = parser.parse_args()
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        print("run inside a D-Bus session with an unlocked keyring (see the module docstring)", file=sys.stderr)
        return 2

    root = short_tempdir("ljb-")
    env = make_env(root)
    # As installed (pip compiles on install): the hook's modules load from cached bytecode. The untimed first read
    # below also writes that cache for this checkout.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    hook_env = dict(env, LLMOJID_CTL=LLMOJID_CTL)
    daemon = start(DaemonProcess(root, env))
    try:
        sessions: dict[int, tuple[ClaudeSession, Path]] = {}
        first_read: dict[int, float] = {}  # Gemini CLI chat files under negative keys
        for size in SIZES:
            session = ClaudeSession(session=f"bench-{size}")
            path = root / f"transcript-{size}.jsonl"
            with path.open("wb") as f:
                for n in range(1, size + 1):
                    f.write(jsonl(session.turn(n)[0]))
            sessions[size] = (session, path)
            warm_env = dict(hook_env, LLMOJID_HOOK_TIMEOUT_MS="600000")
            first_read[size], _, _ = timed(
                ["/bin/sh", str(HOOKS / "claude-code")], session.stop_payload(str(path)), warm_env
            )
        gemini: dict[int, tuple[GeminiSession, Path]] = {}
        for size in GEMINI_SIZES:
            gemini[size] = gemini_chat(root, size)
            first_read[-size], _, _ = timed(
                ["/bin/sh", str(HOOKS / "gemini")], gemini[size][0].after_agent_payload(str(gemini[size][1])), warm_env
            )
        spooled_before = len(spool_files(daemon))

        keys = (*SIZES, *(-size for size in GEMINI_SIZES), "floor")
        wall: dict[int | str, list[float]] = {key: [] for key in keys}
        cpu: dict[int | str, list[float]] = {key: [] for key in keys}
        rss: dict[int | str, list[int]] = {key: [] for key in keys}
        turn = {size: size for size in SIZES}
        gemini_turn = dict.fromkeys(GEMINI_SIZES, 0)
        for _ in range(args.runs):
            ms, kib, cpu_ms = timed([sys.executable, "-I", "-c", "pass"], b"", env)
            wall["floor"].append(ms)
            rss["floor"].append(kib)
            cpu["floor"].append(cpu_ms)
            for size in SIZES:
                session, path = sessions[size]
                turn[size] += 1
                with path.open("ab") as f:
                    f.write(jsonl(session.turn(turn[size])[0]))
                ms, kib, cpu_ms = timed(
                    ["/bin/sh", str(HOOKS / "claude-code")], session.stop_payload(str(path)), hook_env
                )
                wall[size].append(ms)
                rss[size].append(kib)
                cpu[size].append(cpu_ms)
            for size, (chat, chat_path) in gemini.items():  # Gemini CLI: one more turn, then its AfterAgent hook
                gemini_turn[size] += 1
                with chat_path.open("ab") as f:
                    f.write(jsonl(chat.turn(size + gemini_turn[size])[0]))
                ms, kib, cpu_ms = timed(
                    ["/bin/sh", str(HOOKS / "gemini")], chat.after_agent_payload(str(chat_path)), hook_env
                )
                wall[-size].append(ms)
                rss[-size].append(kib)
                cpu[-size].append(cpu_ms)
        spooled = len(spool_files(daemon)) - spooled_before
        opencode = opencode_cases(daemon, hook_env, args.runs)
    finally:
        daemon.stop()

    # The spool path: no daemon answers; the hook seals to the published key and writes a spool file.
    spool_ms: list[float] = []
    spool_cpu: list[float] = []
    spool_rss: list[int] = []
    session, path = sessions[SIZES[0]]
    for _ in range(max(5, args.runs // 3)):
        ms, kib, cpu_ms = timed(["/bin/sh", str(HOOKS / "claude-code")], session.stop_payload(str(path)), hook_env)
        spool_ms.append(ms)
        spool_rss.append(kib)
        spool_cpu.append(cpu_ms)
    remove_tree(root)

    print(f"hook wall time, CPU time and peak RSS, {args.runs} calls each (interleaved), {os.cpu_count()} CPUs")
    print(f"{'case':<34}{'p50 ms':>9}{'p90 ms':>9}{'CPU p50 ms':>12}{'max RSS MiB':>13}{'first read ms':>15}")

    def line(name: str, ms: list[float], cpu_ms: list[float], kib: list[int], first: str = "") -> None:
        print(
            f"{name:<34}{statistics.median(ms):>9.1f}{percentile(ms, 0.9):>9.1f}{statistics.median(cpu_ms):>12.1f}"
            f"{max(kib) / 1024:>13.1f}{first:>15}"
        )

    line("python -I -c pass (floor)", wall["floor"], cpu["floor"], rss["floor"])
    for size in SIZES:
        line(f"hook, {size:,}-turn transcript", wall[size], cpu[size], rss[size], f"{first_read[size]:.1f}")
    for size in GEMINI_SIZES:
        line(f"gemini hook, {size:,}-turn chat", wall[-size], cpu[-size], rss[-size], f"{first_read[-size]:.1f}")
    line("hook, daemon stopped (spools)", spool_ms, spool_cpu, spool_rss)
    ratio = statistics.median(wall[SIZES[-1]]) / statistics.median(wall[SIZES[0]])
    overhead = statistics.median(wall[SIZES[0]]) - statistics.median(wall["floor"])
    print(f"p50 ratio 5,000 / 10 turns: {ratio:.2f}; hook p50 minus floor p50 (10 turns): {overhead:.1f} ms")
    gemini_ratio = statistics.median(wall[-GEMINI_SIZES[-1]]) / statistics.median(wall[-GEMINI_SIZES[0]])
    gemini_overhead = statistics.median(wall[-GEMINI_SIZES[0]]) - statistics.median(wall["floor"])
    print(
        f"gemini p50 ratio 5,000 / 10 turns: {gemini_ratio:.2f}; minus floor p50 (10 turns): {gemini_overhead:.1f} ms"
    )
    print(f"timed calls that missed the 300 ms ack budget and spooled: {spooled}")
    print_opencode(opencode, args.runs)
    return 0


# --- OpenCode: one hook process per finished message -----------------------------------------------------------------
OPENCODE_SIZES = (10, 1_000)


def opencode_cases(daemon: DaemonProcess, env: dict[str, str], runs: int) -> dict[str, list[float]]:
    """Wall ms of the process our plugin starts per message (``llmojid-ctl hook opencode <file>``), at message 10
    and at message 1,000 of one session, interleaved; plus the plugin's own time per message inside a JS runtime.

    The earlier messages of each session are journaled first through the socket (untimed), so the daemon holds
    the session's rows as it would after that many messages. The hand-off file is written the way the plugin
    writes it (0600, in the 0700 hand-off folder) just before each call; the call removes it.
    """
    from llmojid.client import protocol as p
    from llmojid.client.connection import Client

    folder = daemon.root / "run" / "llmojid" / "opencode"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    sessions = {size: OpenCodeSession(session=f"ses_bench{size:010d}") for size in OPENCODE_SIZES}
    with Client(daemon.socket_path, timeout=60) as client:
        for size, session in sessions.items():
            for n in range(1, size + 1):
                client.request(p.HookEvent(harness="opencode", payload=json.dumps(session.turn(n)[0][1]).encode()))
    out: dict[str, list[float]] = {f"message {size:,}": [] for size in OPENCODE_SIZES}
    out |= {f"message {size:,} CPU": [] for size in OPENCODE_SIZES}
    out |= {"python -I -c pass (floor)": [], "python -I -c pass (floor) CPU": []}
    turn = dict.fromkeys(OPENCODE_SIZES, 0)
    for i in range(runs):
        ms, _, cpu_ms = timed([sys.executable, "-I", "-c", "pass"], b"", env)
        out["python -I -c pass (floor)"].append(ms)
        out["python -I -c pass (floor) CPU"].append(cpu_ms)
        for size, session in sessions.items():
            turn[size] += 1
            document = session.turn(size + turn[size])[0][1]
            path = folder / f"msg-{time.time_ns():020d}-{i}-bench.json"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(json.dumps(document).encode())
            ms, _, cpu_ms = timed([LLMOJID_CTL, "hook", "opencode", str(path)], b"", env)
            out[f"message {size:,}"].append(ms)
            out[f"message {size:,} CPU"].append(cpu_ms)
    out["plugin handler (node)"] = plugin_handler_ms(runs)
    out["left behind"] = [float(len(list(folder.iterdir())))]
    return out


PLUGIN_TIMER = r"""
import { pathToFileURL } from "node:url";
const plugin = await import(pathToFileURL(process.argv[2]).href);
const make = Object.values(plugin)[0];
const hooks = await make({ client: { session: { messages: async () => ({ data: [] }) } } });
const times = [];
for (let n = 0; n < Number(process.argv[3]); n++) {
  const user = { id: `msg_u${n}`, sessionID: "ses_b", role: "user", time: { created: 1 } };
  const info = { id: `msg_a${n}`, sessionID: "ses_b", parentID: user.id, role: "assistant", modelID: "m",
                 time: { created: 1, completed: 2 }, path: { cwd: "/" } };
  await hooks.event({ event: { type: "message.updated", properties: { info: user } } });
  for (const [id, messageID, text] of [["p1", user.id, "a prompt"], ["p2", info.id, "(◕‿◕) a reply"]]) {
    const part = { id: id + n, messageID, type: "text", text };
    await hooks.event({ event: { type: "message.part.updated", properties: { part } } });
  }
  const t0 = process.hrtime.bigint();
  await hooks.event({ event: { type: "message.updated", properties: { info } } });
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
console.log(JSON.stringify(times));
"""


def plugin_handler_ms(runs: int) -> list[float]:
    """The plugin's own time per finished message (write the hand-off file, start the hook; not waiting for it),
    measured in node (OpenCode runs it in Bun) with ``/bin/true`` as the hook. Empty without node."""
    from llmojid.client.installers.opencode_plugin import render

    node = shutil.which("node")
    if node is None:
        return []
    with tempfile.TemporaryDirectory(prefix="ljb-plugin-") as tmp:
        plugin = Path(tmp) / "llmojid.mjs"
        plugin.write_text(render("/bin/true", ["/bin/true"]))
        timer = Path(tmp) / "timer.mjs"
        timer.write_text(PLUGIN_TIMER)
        env = dict(os.environ, XDG_RUNTIME_DIR=tmp)
        done = subprocess.run([node, str(timer), str(plugin), str(runs)], capture_output=True, env=env, timeout=300)
        return [float(t) for t in json.loads(done.stdout or b"[]")]


def print_opencode(result: dict[str, list[float]], runs: int) -> None:
    print(f"\nOpenCode: the hook process the plugin starts per finished message, {runs} calls each (interleaved)")
    print(f"{'case':<34}{'p50 ms':>9}{'p90 ms':>9}{'CPU p50 ms':>12}")
    cases = ("python -I -c pass (floor)", *(f"message {size:,}" for size in OPENCODE_SIZES), "plugin handler (node)")
    for name in cases:
        values, cpu = result[name], result.get(f"{name} CPU")
        if values:
            cpu_text = f"{statistics.median(cpu):>12.1f}" if cpu else f"{'':>12}"
            print(f"{name:<34}{statistics.median(values):>9.1f}{percentile(values, 0.9):>9.1f}{cpu_text}")
    first, last = (statistics.median(result[f"message {size:,}"]) for size in OPENCODE_SIZES)
    floor = statistics.median(result["python -I -c pass (floor)"])
    print(
        f"p50 ratio message 1,000 / message 10: {last / first:.2f}; hook p50 minus floor p50 (message 10):"
        f" {first - floor:.1f} ms; hand-off files left: {result['left behind'][0]:.0f}"
    )


if __name__ == "__main__":
    sys.exit(main())
