"""``llmojid-ctl analyze``: turn each (source model, face) cell of the journal into a lexicon bag, on this machine.

The daemon does the work (its own llama.cpp model, or an OpenAI-compatible endpoint on this machine) and streams
one Progress event per finished cell; this command draws a progress bar on a terminal, prints each cell's bag,
or with ``--json`` writes one JSON object per line (each finished cell as ``{"event": "cell", "source_model",
"kaomoji", "synthesis": {...} | null, "error": ...}``, then ``{"event": "done", ...}``). ``--dry-run`` lists the
cells, their sample counts, which are cached, and an estimate of the time.

Ctrl-C (SIGINT, whatever disposition the command inherited) closes the connection; the daemon notices at its next
heartbeat (half a second) and cancels the job. What was finished stays cached, so the next run resumes.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any, TextIO

from llmojid.client import cli
from llmojid.client import protocol as p

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
BAR_WIDTH = 28


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="describe each face of your journal in the locked lexicon, with a local model",
        description="Synthesize a lexicon bag for every (source model, face) cell of the journal. Results are "
        "cached (sealed) in the store: a re-run only does new or changed cells.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--model", metavar="PATH", help="a GGUF model file (default: the configured or embedded one)")
    parser.add_argument(
        "--embedded-model",
        choices=("smollm2-135m", "gemma3-270m"),
        help="which embedded model to use (default: the config's embedded_model); excludes --model",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list the cells and estimate the time; synthesize nothing"
    )
    parser.add_argument("--limit", type=int, default=0, metavar="N", help="only the N most-used cells (default: all)")
    parser.add_argument(
        "--method",
        choices=("scoring", "generation"),
        help="scoring (default: ranks every lexicon word; best for small models) or generation "
        "(grammar-constrained answer; for bigger chat models)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wall-clock bound of one cell (default: the config's, 60 s)",
    )
    parser.add_argument(
        "--backend-url",
        metavar="URL",
        help="an OpenAI-compatible endpoint (http://127.0.0.1:PORT/v1 or unix:/path.sock) instead of "
        "the daemon's own model; API key, if any, from the keyring entry 'backend-api-key'",
    )
    parser.add_argument("--backend-model", metavar="NAME", help="the model name the endpoint serves")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="let --backend-url name another machine (journal samples will be sent there)",
    )
    parser.set_defaults(func=run)


def request_args(args: argparse.Namespace) -> dict[str, object]:
    """The daemon's arguments. A model path is made absolute here: the daemon does not share our directory."""
    if args.limit < 0:
        raise cli.UsageError("--limit must be 0 (all) or more")
    if args.deadline < 0:
        raise cli.UsageError("--deadline must be positive")
    out: dict[str, object] = {"limit": args.limit}
    if args.model and args.embedded_model:
        raise cli.UsageError("--model and --embedded-model exclude each other")
    if args.model:
        out["model_path"] = os.path.abspath(os.path.expanduser(args.model))
    if args.embedded_model:
        out["embedded_model"] = args.embedded_model
    for key, value in (
        ("method", args.method),
        ("backend_url", args.backend_url),
        ("backend_model", args.backend_model),
    ):
        if value:
            out[key] = value
    if args.allow_remote:
        out["allow_remote"] = True
    if args.deadline:
        out["deadline_seconds"] = args.deadline
    return out


class Progress:
    """Renders the daemon's events: a bar on a terminal (stderr), cell lines or JSON lines (stdout)."""

    def __init__(self, *, as_json: bool, out: TextIO, err: TextIO) -> None:
        self.as_json = as_json
        self.out = out
        self.err = err
        self.bar = err.isatty() and not as_json
        self.total = 0
        self.done = 0
        self.counts = {"cached": 0, "failed": 0}
        self.started = time.monotonic()
        self._bar_shown = False

    def event(self, event: dict[str, object]) -> None:
        kind = event.get("event")
        if kind == "start":
            self.total = _int(event.get("total"))
        elif kind == "cell":
            self.done = _int(event.get("index")) or self.done + 1
            if event.get("cached"):
                self.counts["cached"] += 1
            if event.get("error"):
                self.counts["failed"] += 1
            self._cell(event)
        self._draw()

    def _cell(self, event: dict[str, object]) -> None:
        self.clear()
        if self.as_json:
            cli.print_json(event)
            return
        bag = event.get("synthesis")
        face = f"{event.get('source_model')}  {event.get('kaomoji')}"
        if isinstance(bag, dict):
            mark = "cached" if event.get("cached") else "ok"
            primary = ", ".join(bag.get("primary_affect", []))
            stance = ", ".join(bag.get("stance_modality_function", []))
            self.out.write(f"  {mark:<6} {face}  {primary} | {stance}\n")
        else:
            self.out.write(f"  failed {face}  ({event.get('error')})\n")
        self.out.flush()

    def _draw(self) -> None:
        if not self.bar or not self.total:
            return
        filled = int(BAR_WIDTH * self.done / self.total)
        elapsed = time.monotonic() - self.started
        line = (
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total} cells"
            f"  cached {self.counts['cached']}  failed {self.counts['failed']}  {elapsed:.0f}s"
        )
        self.err.write(line)
        self.err.flush()
        self._bar_shown = True

    def clear(self) -> None:
        if self._bar_shown:
            self.err.write("\r\033[K")
            self.err.flush()
            self._bar_shown = False


def _count(value: object, noun: str) -> str:
    return f"{value} {noun}" if value == 1 else f"{value} {noun}s"


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def run(args: argparse.Namespace) -> int:
    # Ctrl-C must cancel however we were started: a shell that ran us in the background without job control
    # (`cmd &` in a script) leaves SIGINT ignored, and Python then keeps it ignored. Ours, from here on.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    payload = request_args(args)
    name = "analyze.plan" if args.dry_run else "analyze"
    progress = Progress(as_json=args.json, out=sys.stdout, err=sys.stderr)
    try:
        with cli.connect(args) as client:
            reply = client.request(p.Request(name=name, args=payload), on_progress=progress.event)
    except KeyboardInterrupt:
        progress.clear()
        print("llmojid-ctl: analyze cancelled; finished cells are cached, run it again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        progress.clear()
    assert isinstance(reply, p.Result)
    value = reply.value if isinstance(reply.value, dict) else {}
    if args.dry_run:
        return _print_plan(value, as_json=args.json)
    if args.json:
        cli.print_json({"event": "done", **value})
        return cli.EXIT_OK
    print(
        f"analyzed {value.get('total', 0)} cells with {value.get('model')} ({value.get('backend')}, "
        f"{value.get('method')}): {value.get('synthesized', 0)} synthesized, {value.get('cached', 0)} cached, "
        f"{value.get('failed', 0)} failed in {value.get('seconds', 0):.1f}s"
    )
    if value.get("failed"):
        print("failed cells were not stored; run analyze again to retry them")
    return cli.EXIT_OK


def _print_plan(value: dict[str, Any], *, as_json: bool) -> int:
    cells = value.get("cells", [])
    summary = {k: v for k, v in value.items() if k != "cells"}
    if as_json:
        for cell in cells:
            cli.print_json({"event": "plan-cell", **cell})
        cli.print_json({"event": "plan", **summary})
        return cli.EXIT_OK
    for cell in cells:
        state = "cached" if cell.get("cached") else "to do"
        print(
            f"  {state:<6} {cell.get('source_model')}  {cell.get('kaomoji')}  "
            f"{_count(cell.get('rows'), 'row')}, {_count(cell.get('samples'), 'sample')}"
        )
    print(
        f"{summary.get('total', 0)} cells: {summary.get('to_synthesize', 0)} to synthesize, "
        f"{summary.get('cached', 0)} cached; about {summary.get('estimate_seconds', 0):.0f}s with "
        f"{summary.get('model')} ({summary.get('backend')}, {summary.get('method')}; "
        f"{summary.get('estimate_basis')})"
    )
    return cli.EXIT_OK
