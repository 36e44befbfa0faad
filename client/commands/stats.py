"""``llmojid-ctl stats [--json] [--top N] [--by model|harness]``: counts per face and model, and journal health.

The numbers come from the daemon (``journal.stats``, ``llmojid.daemon.stats``). This side adds one thing only it
can know: which harnesses have our hook installed (their settings files are read locally), so that an installed
hook that has not fired for ``STALE_AFTER_DAYS`` (or ever) is flagged as stale.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from typing import Any

from llmojid.client import protocol as p
from llmojid.client.cli import EXIT_OK, UsageError, connect, print_json

#: An installed hook with no event for this long is flagged: the harness may not run it (trust, approval, a
#: moved executable), or the harness is simply not in use; the user can tell which.
STALE_AFTER_DAYS = 7


def register(sub: Any) -> None:
    parser = sub.add_parser("stats", help="counts per face and per model, first/last seen, journal health")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--top", type=int, default=20, metavar="N", help="faces to list (default 20)")
    parser.add_argument("--by", choices=("model", "harness"), help="also list the top faces within each")
    parser.set_defaults(func=cmd_stats)


def installed_harnesses() -> list[str]:
    """Harnesses whose settings hold our journal hook (files that do not parse count as not installed)."""
    from llmojid.client.installers import files
    from llmojid.client.installers.edits import SettingsError
    from llmojid.client.installers.harnesses import HARNESSES, our_hooks

    home = os.environ.get("HOME") or os.path.expanduser("~")
    found = []
    for harness in HARNESSES.values():
        try:
            state = files.read_state("hooks", harness.files(home, os.environ)["hooks"], {})
            if state.text and any(e.event == harness.journal_event for e in our_hooks(harness, state.text, home)):
                found.append(harness.hook_arg)
        except SettingsError:
            continue
    return found


def stale_hooks(hooks: list[dict[str, Any]], installed: list[str], now: datetime) -> list[dict[str, Any]]:
    """Installed hooks with no event in STALE_AFTER_DAYS (or none at all). Pure."""
    last = {h["harness"]: h.get("last_event_at", "") for h in hooks}
    out: list[dict[str, Any]] = []
    for harness in installed:
        seen = last.get(harness, "")
        if not seen:
            out.append({"harness": harness, "last_event_at": "", "days": None})
            continue
        try:
            when = datetime.fromisoformat(seen.replace("Z", "+00:00"))
        except ValueError:
            continue
        days = (now - (when if when.tzinfo else when.replace(tzinfo=UTC))).days
        if days >= STALE_AFTER_DAYS:
            out.append({"harness": harness, "last_event_at": seen, "days": days})
    return out


def cmd_stats(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise UsageError("--top must be 1 or more")
    with connect(args) as client:
        reply = client.request(p.Request(name="journal.stats", args={"top": args.top, "by": args.by or ""}))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    value: dict[str, Any] = reply.value
    value["stale_hooks"] = stale_hooks(value.get("hooks", []), installed_harnesses(), datetime.now(UTC))
    if args.json:
        print_json(value)
        return EXIT_OK
    print_stats(value)
    return EXIT_OK


def _day(ts: str) -> str:
    return ts[:10] if ts else "-"


def _faces_table(faces: list[dict[str, Any]], indent: str = "  ") -> None:
    for face in faces:
        shown = (
            face["canonical"] if face["kaomoji"] == face["canonical"] else f"{face['canonical']}  ({face['kaomoji']})"
        )
        print(f"{indent}{face['count']:>7,}  {_day(face['first_seen'])}  {_day(face['last_seen'])}  {shown}")


def print_stats(v: dict[str, Any]) -> None:
    print(
        f"journal: {v['rows']:,} rows, {v['distinct_faces']:,} distinct faces, {_day(v['first_seen'])} .. "
        f"{_day(v['last_seen'])}"
    )
    moved = v.get("resplit")
    if moved:
        print(
            f"face rules: {moved['rows']:,} rows re-split when the rules became llmoji 3.0's: "
            f"{moved['face_changed']:,} to a new face, {moved['canonical_changed']:,} to a new key, "
            f"{moved['kept_not_face_led']:,} kept as they were"
        )
    if v["faces"]:
        print(f"\ntop faces{'':<3}count  first seen  last seen   face")
        _faces_table(v["faces"])
    if v["models"]:
        print("\nmodels")
        for m in v["models"]:
            name = m["model"] or "(unknown)"
            print(
                f"  {m['count']:>7,}  {m['faces']:>5,} faces  {_day(m['first_seen'])}  {_day(m['last_seen'])}  {name}"
            )
    if v["harnesses"]:
        print("\nharnesses")
        for h in v["harnesses"]:
            print(
                f"  {h['count']:>7,}  {h['faces']:>5,} faces  {_day(h['first_seen'])}  {_day(h['last_seen'])}  "
                f"{h['harness']}"
            )
    by = v.get("by")
    if by:
        print(f"\ntop faces by {by['key']}")
        for group in by["groups"]:
            print(f"  {group[by['key']] or '(unknown)'}")
            _faces_table(group["top_faces"], indent="    ")
    print("\nhealth")
    for h in v["hooks"]:
        last = h["last_event_at"][:19].replace("T", " ") if h["last_event_at"] else "never"
        print(
            f"  {h['harness']:<12} last hook {last}  events {h['events']:,} ({h['spooled']:,} spooled)  "
            f"rows {h['rows_added']:,}  bad payloads {h['bad_payloads']:,}  bad lines {h['bad_lines']:,}"
        )
    spool = v.get("spool", {})
    print(f"  spool: {spool.get('waiting', 0):,} event(s) waiting, {spool.get('quarantined', 0):,} set aside")
    print(f"  parse errors: {v.get('parse_errors', 0):,}")
    for stale in v.get("stale_hooks", []):
        if stale["days"] is None:
            print(f"  stale: the {stale['harness']} hook is installed but has never fired (trusted? approved?)")
        else:
            print(f"  stale: the {stale['harness']} hook is installed but last fired {stale['days']} days ago")
