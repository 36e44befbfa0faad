"""``llmojid-ctl typing [--json]`` and ``llmojid-ctl typing reset``: your typing baseline and recent scores.

``typing`` shows whether a baseline is enrolled (and how many prompt windows it still needs), how many
windows were seen, and the newest windows with their deviation from the baseline (a flag marks one past
the threshold chosen at the encoder's evaluated equal-error point). ``typing reset`` forgets the baseline,
so the next prompts enrol a new one (after a new keyboard, or when someone else will use this account).
"""

from __future__ import annotations

import argparse
from typing import Any

from llmojid.client import cli
from llmojid.client import protocol as p


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "typing",
        help="typing rhythm: baseline enrolment, recent deviation scores; `typing reset` forgets the baseline",
    )
    parser.add_argument("--json", action="store_true", help="the daemon's answer as one JSON object")
    parser.add_argument("-n", type=int, default=10, help="how many recent windows to show (default 10)")
    parser.set_defaults(func=cmd_status)
    sub = parser.add_subparsers(dest="typing_command", metavar="SUBCOMMAND")
    reset = sub.add_parser("reset", help="forget the typing baseline; enrolment starts again")
    reset.add_argument("--json", action="store_true")
    reset.set_defaults(func=cmd_reset)


def cmd_status(args: argparse.Namespace) -> int:
    if args.n < 0:
        raise cli.UsageError("-n must be 0 or more")
    with cli.connect(args) as client:
        reply = client.request(p.Request(name="typing.status", args={"limit": args.n}))
    assert isinstance(reply, p.Result)
    value = reply.value
    assert isinstance(value, dict)
    if args.json:
        cli.print_json(value)
        return cli.EXIT_OK
    print(render(value))
    return cli.EXIT_OK


def render(value: dict[str, Any]) -> str:
    """The human view of typing.status."""
    enrol = value["enrollment"]
    lines = []
    if enrol["state"] == "enrolled":
        extra = f", updated by {enrol['updates']} windows since" if enrol["updates"] else ""
        lines.append(f"baseline   enrolled ({enrol['needed']} windows{extra})")
    else:
        lines.append(f"baseline   {enrol['state']}: {enrol['windows']} of {enrol['needed']} windows")
    by_status = value["windows_by_status"]
    lines.append(
        f"windows    {value['windows_seen']} seen: {by_status['scored']} scored, {by_status['enrolled']} enrolled, "
        f"{by_status['short']} too short, {by_status['unencoded']} unencoded"
        + (f", {by_status['pending']} waiting" if by_status["pending"] else "")
    )
    thr = value["thresholds"]
    lines.append(f"threshold  {thr['press_only']:.3f} (key presses only), {thr['with_release']:.3f} (with releases)")
    if "sustained_windows" in thr:
        lines.append(
            f"sustained  mean of {thr['sustained_windows']} windows: {thr['sustained_press_only']:.3f} (key presses "
            f"only), {thr['sustained_with_release']:.3f} (with releases)"
        )
    encoder = value["encoder"]
    if encoder["error"]:
        lines.append(f"encoder    FAILED: {encoder['error']}")
    recent = value["recent"]
    if recent:
        lines.append("")
        lines.append(
            f"{'closed at (UTC)':<20} {'source':<8} {'keys':>5} {'flight ms':>9} {'corr':>5}  deviation  sustained"
        )
    for w in recent:
        dev = "" if w.get("deviation") is None else f"{w['deviation']:.3f}"
        flag = "  FLAG" if w.get("flagged") else ""
        if w.get("sustained_deviation") is not None:
            flag += f"  {w['sustained_deviation']:.3f}" + (" SUSTAINED" if w.get("sustained_flagged") else "")
        flight = w.get("median_flight_ms")
        lines.append(
            f"{w['closed_at'][:19]:<20} {w['source']:<8} {w.get('n_events', 0):>5} "
            f"{'' if flight is None else f'{flight:.0f}':>9} {w.get('correction_rate', 0.0):>5.2f}  "
            f"{dev or w['status']}{flag}"
        )
    return "\n".join(lines)


def cmd_reset(args: argparse.Namespace) -> int:
    with cli.connect(args) as client:
        reply = client.request(p.Request(name="typing.reset", args={}))
    assert isinstance(reply, p.Result)
    if args.json:
        cli.print_json(reply.value)
    else:
        print("typing baseline forgotten; the next prompts enrol a new one")
    return cli.EXIT_OK
