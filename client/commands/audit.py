"""``llmojid-ctl audit [--json] [--only CHECK] [--log FILE]``: check that the privacy promises hold.

The daemon runs the checks (it holds the keys the store check needs; see ``llmojid.daemon.privacy.auditor``) and
answers with a report. Exit 0 when every check passed, ``EXIT_AUDIT_FAILED`` (4) with one line per problem when
any failed, and the usual 1/3 when the daemon refused or is not running.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Final

from llmojid.client import cli
from llmojid.client import protocol as p

#: The audit ran and found problems (distinct from 1, "the daemon refused").
EXIT_AUDIT_FAILED: Final = 4
CHECKS: Final = ("store.sealed", "store.plaintext", "sessions", "bundle", "spool", "logs", "modes")
#: A full audit opens every sealed value: give a big store time (progress is not streamed).
TIMEOUT_SECONDS: Final = 600.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="check the store, bundle, spool, logs and file modes for anything that breaks llmojid's promises",
        description="Checks that every sealed value opens under the active key, that no plaintext column holds "
        "prose or personal data, that the session diary holds only metadata, that the bundle folder holds only "
        "a valid bundle, that the spool holds only sealed files, that the logs hold no personal data or journal "
        "text, and that every path llmojid owns "
        f"is private. Exit 0 when all pass, {EXIT_AUDIT_FAILED} when any fails.",
    )
    parser.add_argument("--json", action="store_true", help="the report as one JSON object")
    parser.add_argument("--only", action="append", choices=CHECKS, metavar="CHECK", help=f"run only CHECK {CHECKS}")
    parser.add_argument("--log", action="append", default=[], metavar="FILE", help="also check this log file")
    parser.add_argument("--folder", help="the bundle folder to check (default: the data folder's bundle/)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    request: dict[str, object] = {"only": list(args.only or []), "logs": [os.path.abspath(x) for x in args.log]}
    if args.folder:
        request["folder"] = os.path.abspath(os.path.expanduser(args.folder))
    with cli.connect(args, timeout=TIMEOUT_SECONDS) as client:
        reply = client.request(p.Request(name="audit", args=request))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    report = reply.value
    if args.json:
        cli.print_json(report)
        print_failures(report)
    else:
        print_report(report)
    return cli.EXIT_OK if report.get("ok") else EXIT_AUDIT_FAILED


def print_report(report: dict[str, Any]) -> None:
    failures = report.get("failures", [])
    failed = {f["check"] for f in failures}
    for check, n in sorted(report.get("checked", {}).items()):
        mark = "FAIL" if check in failed else "ok"
        print(f"{mark:<5}{check:<17}{n} item(s) checked")
    for note in report.get("notes", []):
        print(f"note: {note}")
    print_failures(report)
    print("audit passed" if report.get("ok") else f"audit FAILED: {len(failures)} problem(s)")


def print_failures(report: dict[str, Any]) -> None:
    """One line per problem on stderr (also with --json, so a script's log shows why it failed)."""
    for f in report.get("failures", []):
        print(f"llmojid-ctl audit: {f['check']}: {f['where']}: {f['message']}", file=sys.stderr)
