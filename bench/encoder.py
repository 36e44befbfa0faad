"""Keystroke encoder and wrapper costs: encode latency, the daemon's memory before/after torch, wrap's added latency.

    dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null;
                               .venv/bin/python bench/encoder.py'

1. Per-window encode latency of the shipped TCN (one torch thread, as the daemon runs it), p50 and p99 over
   repeated calls, for 1 window and for a batch of 16, each a 60-key prompt.
2. A real daemon's RSS before anything was encoded (torch not imported) and after its first window was encoded,
   with the time that first window took from send to stored score (torch import + weights check + load + encode).
3. The wrapper's added per-keystroke latency: an echo round trip (write one byte to a terminal, read it back) to
   ``cat`` in raw mode, once through ``llmojid-ctl wrap`` and once without it, measured interleaved in one run so
   both see the same machine load. The wrapper records and sends timing to the daemon while this runs.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from llmojid.client import protocol as p
from llmojid.client.connection import Client
from llmojid.daemon.keystrokes.features import KeyClass, KeyEvent
from tests.support import LLMOJID_CTL, DaemonProcess, make_env, remove_tree, short_tempdir

RAW_CAT = ["sh", "-c", "stty raw -echo; exec cat"]


def prompt(seed: int, n: int = 60) -> list[KeyEvent]:
    rng = np.random.default_rng(seed)
    t, out = 0.0, []
    for i in range(n):
        t += float(rng.lognormal(np.log(160), 0.5)) if i else 0.0
        cls = KeyClass.SPACE if i % 6 == 5 else KeyClass.CHAR
        out.append(KeyEvent(t, None, int(cls)))
    out.append(KeyEvent(t + 150.0, None, int(KeyClass.ENTER)))
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def bench_encode(runs: int) -> list[tuple[str, float, float]]:
    from llmojid.daemon.keystrokes.encoder import Encoder

    encoder = Encoder(threads=1)
    rows = []
    # The frozen TorchScript graph the daemon runs, against the eager model, interleaved call by call.
    window = [prompt(0)]
    frozen, eager = encoder._forward, encoder.model
    encoder.encode(window)
    times_by: dict[str, list[float]] = {"frozen": [], "eager": []}
    for _ in range(runs):
        for name, forward in (("frozen", frozen), ("eager", eager)):
            encoder._forward = forward
            t0 = time.perf_counter()
            encoder.encode(window)
            times_by[name].append((time.perf_counter() - t0) * 1000)
    encoder._forward = frozen
    rows.append(("encode  1 window, eager model (ms/call)", pct(times_by["eager"], 50), pct(times_by["eager"], 99)))
    for batch in (1, 16):
        windows = [prompt(s) for s in range(batch)]
        encoder.encode(windows)  # warm-up
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            encoder.encode(windows)
            times.append((time.perf_counter() - t0) * 1000)
        rows.append(
            (f"encode {batch:>2} window{'s' if batch > 1 else ' '} (ms per call)", pct(times, 50), pct(times, 99))
        )
        if batch > 1:
            per = [t / batch for t in times]
            rows.append((f"encode {batch:>2} windows (ms per window)", pct(per, 50), pct(per, 99)))
    return rows


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def bench_daemon_rss(daemon: DaemonProcess) -> tuple[int, int, float]:
    assert daemon.proc is not None
    before = rss_kib(daemon.proc.pid)
    t0 = time.perf_counter()
    with Client(daemon.socket_path) as client:
        client.request(p.Keystrokes(source="bench/rss", events=[p.KeyEvent(*e) for e in prompt(1)]))
        while True:
            reply = client.request(p.Request(name="typing.status", args={"limit": 1}))
            assert isinstance(reply, p.Result)
            value = reply.value
            assert isinstance(value, dict)
            if value["windows_by_status"]["pending"] == 0 and value["windows_seen"]:
                break
            time.sleep(0.01)
    first = time.perf_counter() - t0
    return before, rss_kib(daemon.proc.pid), first


class Echo:
    """A program on a fresh pty that we can time one-byte round trips against."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        time.sleep(1.0)
        self.drain()

    def drain(self) -> None:
        while select.select([self.master], [], [], 0.05)[0]:
            os.read(self.master, 4096)

    def round_trip_ms(self, byte: bytes) -> float:
        t0 = time.perf_counter()
        os.write(self.master, byte)
        got = b""
        while byte not in got:
            if not select.select([self.master], [], [], 5.0)[0]:
                raise TimeoutError("no echo within 5 s")
            got += os.read(self.master, 4096)
        return (time.perf_counter() - t0) * 1000

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        os.close(self.master)


def bench_wrap(env: dict[str, str], keys: int) -> tuple[list[float], list[float]]:
    plain = Echo(RAW_CAT, env)
    wrapped = Echo([LLMOJID_CTL, "wrap", "--", *RAW_CAT], env)
    direct, through = [], []
    try:
        for i in range(keys):
            byte = b"\r" if i % 40 == 39 else bytes([ord("a") + i % 26])  # an Enter closes a window
            direct.append(plain.round_trip_ms(byte))
            through.append(wrapped.round_trip_ms(byte))
            time.sleep(0.01)  # a fast typist: 100 keys per second
    finally:
        plain.close()
        wrapped.close()
    return direct, through


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="encode calls per batch size")
    parser.add_argument("--keys", type=int, default=300, help="echo round trips per variant")
    args = parser.parse_args()
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        print("run inside dbus-run-session with an unlocked gnome-keyring (see the docstring)", file=sys.stderr)
        return 2

    print(f"{'measurement':<42} {'p50':>9} {'p99':>9}")
    for name, p50, p99 in bench_encode(args.runs):
        print(f"{name:<42} {p50:>9.3f} {p99:>9.3f}")

    root = short_tempdir("lj-bench-")
    try:
        env = make_env(root)
        daemon = DaemonProcess(root, env).start()
        try:
            before, after, first = bench_daemon_rss(daemon)
            print(f"{'daemon RSS before first encode (MiB)':<42} {before / 1024:>9.1f}")
            print(f"{'daemon RSS after first encode (MiB)':<42} {after / 1024:>9.1f}")
            print(f"{'first window: send to stored score (ms)':<42} {first * 1000:>9.0f}")
            direct, through = bench_wrap(env, args.keys)
            print(f"{'echo round trip without wrap (ms)':<42} {pct(direct, 50):>9.3f} {pct(direct, 99):>9.3f}")
            print(f"{'echo round trip through wrap (ms)':<42} {pct(through, 50):>9.3f} {pct(through, 99):>9.3f}")
            added = [b - a for a, b in zip(direct, through, strict=True)]
            print(f"{'added per keystroke by wrap (ms)':<42} {pct(added, 50):>9.3f} {pct(added, 99):>9.3f}")
            status = Client(daemon.socket_path).request(p.Request(name="typing.status", args={"limit": 0}))
            assert isinstance(status, p.Result) and isinstance(status.value, dict)
            print(f"(prompt windows the daemon stored from the wrapped run: {status.value['windows_seen'] - 1})")
        finally:
            daemon.stop()
    finally:
        remove_tree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
