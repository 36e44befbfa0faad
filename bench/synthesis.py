"""Synthesis on the labeled sets: agreement per model, method and set, per-cell cost through the daemon next to
llama-cpp-python driven directly on the same prompts, the model's load time, and the daemon's RSS.

    dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null;
                               .venv/bin/python bench/synthesis.py --threads 1 --embedded-model gemma3-270m'

The sets (default: tests/data/synthesis/dev.jsonl, for choosing methods, and test.jsonl, written before any
tuning and scored once per release of the method) hold cells of 4 samples whose context conveys one circumplex
cell of lexicon v2 (NB cells hold neutral or mixed samples). Each cell becomes 4 journal rows (SubmitRows) under a
source model of its own, so every cell of a set is one journal cell with exactly its 4 samples.

Through the daemon: `analyze` per method on a fresh store (nothing cached), timed from the request to the reply;
per cell = that time / cells. Direct: the same prepared samples (prompt.py, the same sanitizer and caps), the
same method code, run on a `llama_cpp.Llama` this process loads itself with the same settings: no socket, store,
sealing, journal reads, threads or locks. The ratio of the two is the daemon's overhead (target: under 5 %).
CPU is scarce on a shared machine, so `--direct-cells N` runs the direct path on N cells spread evenly over the
sets (default 9) and compares them with the daemon's bags for the same cells; per-cell costs are then means
over different cell samples, so read the ratio as approximate.

Agreement (per cell, then averaged over the set): the share of the bag's primary words that lie in the labeled
circumplex cell; a failed cell counts 0. Chance is about 0.11 (9 cells).

Times are wall and CPU seconds per cell. This machine may be shared: wall times then include waiting for a core,
while CPU times (the daemon process from /proc, this process for the direct path) do not, so the CPU ratio is the
steadier measure of the daemon's overhead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmojid.client import protocol as p
from llmojid.client.connection import Client
from llmojid.common.lexicon import CELL_OF_WORD, Bag, LexiconError, validate_bag
from llmojid.common.taxonomy import canonicalize
from llmojid.daemon.model.prompt import JournalSample, PromptSample, prepare_sample
from llmojid.daemon.model.runner import (
    DEFAULT_EVAL_CHUNK,
    DEFAULT_MAX_TOKENS,
    RunnerError,
    Session,
    default_model_path,
)
from llmojid.daemon.model.synthesis import Method, SynthesisError, cell_job
from tests.support import DaemonProcess, make_env, remove_tree, short_tempdir

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "synthesis"
LABELED = DATA / "labeled.jsonl"
DEFAULT_SETS = f"{DATA / 'dev.jsonl'},{DATA / 'test.jsonl'}"


def load_labeled(limit: int, path: Path = LABELED) -> list[dict[str, Any]]:
    cells = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return cells[:limit] if limit else cells


def rows_for(cells: list[dict[str, Any]]) -> list[p.JournalRow]:
    rows = []
    for cell in cells:
        for i, sample in enumerate(cell["samples"]):
            rows.append(
                p.JournalRow(
                    ts=f"2026-11-01T00:00:{i:02d}Z",
                    model=f"labeled/{cell['id']}",
                    harness="generic",
                    session="bench",
                    message_id=f"{cell['id']}-{i}",
                    kaomoji=cell["face"],
                    assistant_text=sample["assistant"],
                    user_text=sample.get("user") or "",
                    cwd="",
                )
            )
    return rows


def prompt_samples(cell: dict[str, Any]) -> list[PromptSample]:
    """What the daemon builds for the cell (journal order, same masking, sanitizer and caps)."""
    rows = [
        JournalSample(i + 1, cell["face"], s.get("user") or None, s["assistant"]) for i, s in enumerate(cell["samples"])
    ]
    return [prepare_sample(row, cell["face"]) for row in rows]


def agreement(labels: dict[str, str], bags: dict[str, Bag | None]) -> tuple[float, float, int]:
    share = first = 0.0
    failed = 0
    for cell_id, label in labels.items():
        bag = bags.get(cell_id)
        if bag is None:
            failed += 1  # a failed cell counts as disagreement
            continue
        share += sum(CELL_OF_WORD[w] == label for w in bag.primary_affect) / len(bag.primary_affect)
        first += CELL_OF_WORD[bag.primary_affect[0]] == label
    n = max(1, len(labels))
    return share / n, first / n, failed


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def named(daemon: DaemonProcess, name: str, args: dict[str, object] | None = None, timeout: float = 3600) -> Any:
    with Client(daemon.socket_path, timeout=timeout) as client:
        reply = client.request(p.Request(name=name, args=args or {}))
    assert isinstance(reply, p.Result)
    return reply.value


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Timed:
    """Wall and CPU seconds of one path over the labeled set, and the bags it made."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.bags: dict[str, Bag | None] = {}
        self.max_rss_kib = 0


def through_daemon(daemon: DaemonProcess, pid: int, method: str, model: str, embedded: str) -> Timed:
    """The whole analyze request, less any model load it triggered (reported separately)."""
    out = Timed()

    def on_progress(event: dict[str, object]) -> None:
        if event.get("event") == "cell":
            source = str(event["source_model"]).removeprefix("labeled/")
            out.bags[source] = validate_bag(event["synthesis"]) if event["synthesis"] else None
            out.max_rss_kib = max(out.max_rss_kib, rss_kib(pid))

    loads = named(daemon, "model.status").get("load_count") or 0
    cpu_before = cpu_seconds(pid)
    with Client(daemon.socket_path, timeout=3600) as client:
        started = time.perf_counter()
        request = p.Request(
            name="analyze",
            # a generous per-cell deadline: this measures quality, and a shared machine can starve a cell
            args={
                "method": method,
                "model_path": model,
                "embedded_model": "" if model else embedded,
                "deadline_seconds": 900.0,
            },
        )
        reply = client.request(request, on_progress=on_progress)
        out.wall = time.perf_counter() - started
    out.cpu = cpu_seconds(pid) - cpu_before
    assert isinstance(reply, p.Result)
    status = named(daemon, "model.status")
    load = (status["load_count"] - loads) * (status["last_load_seconds"] or 0.0)
    out.wall -= load
    out.cpu -= load  # loading is CPU and page-in; an approximation, small next to a run
    return out


def direct(llm: Any, model_id: str, cells: list[dict[str, Any]], method: str) -> Timed:
    """The same prompts and method code on a Llama this process owns, called in this thread."""
    out = Timed()
    memo: dict[object, object] = {}
    prepared = [(cell["id"], prompt_samples(cell), canonicalize(cell["face"])) for cell in cells]
    cpu_before = time.process_time()
    started = time.perf_counter()
    for cell_id, samples, face in prepared:
        session = Session(
            llm=llm,
            stop=threading.Event(),
            deadline=math.inf,
            max_tokens=DEFAULT_MAX_TOKENS,
            eval_chunk=DEFAULT_EVAL_CHUNK,
            model_id=model_id,
        )
        try:
            out.bags[cell_id] = cell_job(Method(method), samples, memo, face)(session)
        except (SynthesisError, RunnerError, LexiconError):
            out.bags[cell_id] = None
        finally:
            llm.n_tokens = 0
    out.wall = time.perf_counter() - started
    out.cpu = time.process_time() - cpu_before
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=0, help="only the first N cells of each set (default: all)")
    parser.add_argument(
        "--data",
        default=DEFAULT_SETS,
        help="comma-separated labeled sets (default: dev.jsonl,test.jsonl; labeled.jsonl and heldout.jsonl are "
        "the older sets of issue 5)",
    )
    parser.add_argument("--methods", default="scoring,generation")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--direct-cells", type=int, default=9, help="cells for the direct path (0 = all)")
    parser.add_argument("--model", default="", help="a GGUF file (default: the embedded model)")
    parser.add_argument(
        "--embedded-model", default="", help="smollm2-135m or gemma3-270m (default: the default embedded model)"
    )
    args = parser.parse_args()
    sets = {Path(path).stem: load_labeled(args.cells, Path(path)) for path in args.data.split(",") if path}
    cells = [cell for members in sets.values() for cell in members]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    step = max(1, len(cells) // args.direct_cells) if args.direct_cells else 1
    direct_cells = cells[::step][: args.direct_cells or None]

    root = short_tempdir("lj-bench-")
    env = make_env(root)
    env.update(
        LLMOJID_MODEL_THREADS=str(args.threads),
        LLMOJID_MODEL_CONTEXT=str(args.context),
        LLMOJID_MODEL_IDLE_UNLOAD_SECONDS="3",
    )
    if args.embedded_model:
        env["LLMOJID_EMBEDDED_MODEL"] = args.embedded_model
    model_path = (
        Path(args.model).resolve()
        if args.model
        else default_model_path(args.embedded_model, Path(env["XDG_DATA_HOME"]) / "llmojid")
    )
    daemon = DaemonProcess(root, env).start()
    try:
        assert daemon.proc is not None
        pid = daemon.proc.pid
        with Client(daemon.socket_path) as client:
            for start in range(0, len(cells) * 4, 200):
                client.request(p.SubmitRows(rows=rows_for(cells)[start : start + 200]))
        rss_before = rss_kib(pid)

        results = []
        for method in methods:
            via_daemon = through_daemon(daemon, pid, method, str(model_path) if args.model else "", args.embedded_model)
            results.append((method, via_daemon))
        rss_loaded = max(d.max_rss_kib for _, d in results)
        status = named(daemon, "model.status")
        deadline = time.monotonic() + 60
        while named(daemon, "model.status").get("loaded") and time.monotonic() < deadline:
            time.sleep(0.5)
        rss_unloaded = rss_kib(pid)

        import llama_cpp

        load_started = time.perf_counter()
        llm = llama_cpp.Llama(
            model_path=str(model_path),  # assembled and digest-checked by the daemon's load above
            n_ctx=args.context,
            n_batch=512,
            n_threads=args.threads,
            n_threads_batch=args.threads,
            seed=0,
            verbose=False,
        )
        direct_load = time.perf_counter() - load_started
        directs = {method: direct(llm, model_path.name, direct_cells, method) for method in methods}
        llm.close()
    finally:
        daemon.stop()
        remove_tree(root)

    n = len(cells)
    print(f"cells: {n} ({', '.join(f'{k} {len(v)}' for k, v in sets.items())})   threads: {args.threads}   "
          f"model: {model_path.name}")  # fmt: skip
    print(f"cpus: {os.cpu_count()}   load average at the end: {os.getloadavg()[0]:.1f} (other work on the machine "
          "inflates wall times; CPU times are per process)")  # fmt: skip
    print()
    set_heads = " ".join(f"{name + ' agr':>10} {'failed':>6}" for name in sets)
    print(
        f"{'method':<11} {set_heads} {'daemon wall/cell':>16} {'direct wall/cell':>16} {'daemon cpu/cell':>15} "
        f"{'direct cpu/cell':>15} {'cpu ratio':>9} {'same bags':>9}"
    )
    for method, d in results:
        x = directs[method]
        cols = []
        for members in sets.values():
            share, _first, failed = agreement({c["id"]: c["cell"] for c in members}, d.bags)
            cols.append(f"{share:>10.2f} {failed:>6d}")
        same = sum(d.bags.get(c["id"]) == x.bags.get(c["id"]) for c in direct_cells)
        nd = max(1, len(direct_cells))
        print(
            f"{method:<11} {' '.join(cols)} {d.wall / n:>15.2f}s {x.wall / nd:>15.2f}s {d.cpu / n:>14.2f}s "
            f"{x.cpu / nd:>14.2f}s {(d.cpu / n) / max(1e-9, x.cpu / nd):>9.3f} {same:>5d}/{len(direct_cells)}"
        )
    print()
    print("agreement: mean share of a cell's primary words that lie in its labeled circumplex cell (chance ~0.11)")
    print(f"direct path: {len(direct_cells)} cells spread over the sets; same bags = identical to the daemon's")
    print(f"model load time: daemon {status.get('last_load_seconds') or 0:.2f}s, direct {direct_load:.2f}s")
    print(
        f"daemon RSS: before the model {rss_before / 1024:.0f} MiB, with the model loaded {rss_loaded / 1024:.0f} "
        f"MiB, after the idle unload {rss_unloaded / 1024:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
