"""Which rows an export yields: llmojid's importer next to llmoji 3.0's ``llmoji parse --provider ...``.

    python3 -m venv /tmp/llmoji-venv && /tmp/llmoji-venv/bin/pip install llmoji==3.0.0   # with its dependencies
    .venv/bin/python bench/exports_vs_llmoji.py --llmoji /tmp/llmoji-venv/bin/llmoji [EXPORT_DIR ...]

llmoji runs in its own virtualenv (llmojid never imports it) with a throwaway HOME; its journal rows are read
back and compared with the rows llmojid's parsers make of the same folders (``daemon/exports``, in process: the
same code the daemon runs). A row is (ts, model, kaomoji, user_text, assistant_text); the table counts rows in
both, and lists every row found by one tool only. llmoji 3.0 reads claude.ai and ChatGPT exports only, so the
Gemini and OpenHands fixtures have no reference. Default folders: ``tests/data/exports/``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmojid.daemon.exports.reading import read_unit
from llmojid.daemon.exports.sources import discover
from tests.export_samples import FIXTURES

#: llmoji's provider name and journal file for each of our formats it reads, and the fixture folders.
PROVIDERS = {
    "claude.ai": ("claude.ai", "claude_ai_export.jsonl", ("claude_ai", "claude_ai_files")),
    "chatgpt": ("chatgpt", "chatgpt_export.jsonl", ("chatgpt",)),
    "chatgpt (split files)": ("chatgpt", "chatgpt_export.jsonl", ("chatgpt_split",)),
}
Row = tuple[str, str, str, str, str]


def llmoji_rows(llmoji: str, provider: str, journal: str, folders: list[Path]) -> list[Row]:
    with tempfile.TemporaryDirectory() as home:
        subprocess.run(
            [llmoji, "parse", "--provider", provider, *map(str, folders)],
            env={"HOME": home, "PATH": "/usr/bin:/bin"},
            check=True,
            capture_output=True,
        )
        lines = (Path(home) / ".llmoji" / "journals" / journal).read_text(encoding="utf-8").splitlines()
    return sorted(
        (r["ts"], r["model"], r["kaomoji"], r["user_text"], r["assistant_text"]) for r in map(json.loads, lines)
    )


def our_rows(fmt: str, folders: list[Path]) -> list[Row]:
    found = discover([str(f) for f in folders], fmt)
    return sorted(
        (r.ts, r.model, r.kaomoji, r.user_text, r.assistant_text)
        for unit in found.units
        for batch in read_unit(unit)
        for r in batch.rows
    )


def short(row: Row) -> str:
    ts, model, face, _user, text = row
    return f"{ts} {model or '(no model)'} {face} {text[:48]!r}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llmoji", required=True, help="the llmoji console script of a throwaway venv")
    parser.add_argument("--root", type=Path, default=FIXTURES, help="folder holding the export folders")
    args = parser.parse_args()
    print("| export | llmoji 3.0 rows | llmojid rows | same rows | llmoji only | llmojid only |")
    print("|---|---|---|---|---|---|")
    details: list[str] = []
    for fmt, (provider, journal, names) in PROVIDERS.items():
        folders = [args.root / n for n in names]
        theirs = llmoji_rows(args.llmoji, provider, journal, folders)
        ours = our_rows(fmt.split()[0], folders)
        same = sorted(set(theirs) & set(ours))
        only_theirs, only_ours = sorted(set(theirs) - set(ours)), sorted(set(ours) - set(theirs))
        print(f"| {fmt} | {len(theirs)} | {len(ours)} | {len(same)} | {len(only_theirs)} | {len(only_ours)} |")
        details += [f"{fmt}, llmoji only: {short(r)}" for r in only_theirs]
        details += [f"{fmt}, llmojid only: {short(r)}" for r in only_ours]
    for fmt in ("gemini", "openhands"):
        rows = our_rows(fmt, [args.root / fmt])
        print(f"| {fmt} | (no reader) | {len(rows)} | - | - | {len(rows)} |")
    print()
    for line in details:
        print(f"- {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
