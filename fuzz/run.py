"""Run one fuzz target under atheris (coverage-guided), bounded in time.

    .venv/bin/python fuzz/run.py TARGET [--seconds N] [--jobs 1]      # TARGET from fuzz/targets.py, or "all"

New inputs that increase coverage go to ``fuzz/corpus/TARGET/`` (kept in the repository); a crash writes its
input as ``crash-*`` in the current directory: copy it into the corpus so ``tests/test_fuzz.py`` replays it forever.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def run_one(name: str, seconds: int, corpus_root: Path) -> int:
    corpus = corpus_root / name
    corpus.mkdir(parents=True, exist_ok=True)
    code = (
        "import sys, atheris\n"
        "with atheris.instrument_imports():\n"
        "    from fuzz.targets import TARGETS\n"
        f"atheris.Setup(sys.argv, TARGETS[{name!r}])\n"
        "atheris.Fuzz()\n"
    )
    args = [
        sys.executable,
        "-c",
        code,
        str(corpus),
        f"-max_total_time={seconds}",
        "-max_len=4096",
        "-rss_limit_mb=1024",
        "-timeout=10",
        "-print_final_stats=1",
    ]
    return subprocess.run(args, cwd=HERE.parent).returncode


def main() -> int:
    from fuzz.targets import TARGETS

    parser = argparse.ArgumentParser(description="run a fuzz target under atheris")
    parser.add_argument("target", choices=[*TARGETS, "all"])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus", help="corpus root (default: fuzz/corpus)")
    args = parser.parse_args()
    names = list(TARGETS) if args.target == "all" else [args.target]
    worst = 0
    for name in names:
        print(f"== {name} ({args.seconds}s)", flush=True)
        worst = max(worst, run_one(name, args.seconds, args.corpus.resolve()))
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
