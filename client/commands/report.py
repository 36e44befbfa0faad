"""``llmojid-ctl report [--out DIR] [--open]``: write the HTML report of faces, models, lexicon bags and typing.

The daemon gives the numbers (``report.data``: aggregates only, never journal text; ``llmojid.daemon.report_data``);
this side draws them (``llmojid.client.report``: matplotlib, inline SVG) into ``DIR/index.html``, one
self-contained page with a strict Content-Security-Policy. ``DIR`` defaults to ``report/`` in the data folder.
``--open`` hands the file to the desktop's browser (Python's ``webbrowser``, which honours ``$BROWSER``).

Exit codes: 0 written, 1 the daemon refused, 2 the folder cannot be written (or bad arguments), 3 no daemon.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Final

from llmojid.client import cli, paths
from llmojid.client import protocol as p
from llmojid.client.cli import EXIT_OK

#: A big journal's aggregates take a while to sum; the request streams no progress.
TIMEOUT_SECONDS: Final = 300.0
#: The daemon's bound on ``--top`` (``llmojid.daemon.report_data.MAX_TOP``; the client does not import the daemon).
MAX_TOP: Final = 50


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report (faces per model, lexicon bags, typing rhythm)",
        description="Draws your journal's aggregates (faces, counts, lexicon words and typing deviation scores; "
        "never its text) into DIR/index.html: one page with inline charts, no scripts and no network requests.",
    )
    parser.add_argument("--out", metavar="DIR", help="where to write index.html (default: the data folder's report/)")
    parser.add_argument("--open", action="store_true", help="open the report in your browser")
    parser.add_argument("--top", type=int, default=12, metavar="N", help="faces followed day by day (default 12)")
    parser.add_argument("--synthesis-model", default="", metavar="NAME", help="whose lexicon bags to show")
    parser.set_defaults(func=run)


def default_folder() -> Path:
    return Path(paths.data_dir()) / "report"


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.top <= MAX_TOP:
        raise cli.UsageError(f"--top must be between 1 and {MAX_TOP}")
    folder = Path(args.out).expanduser().absolute() if args.out else default_folder()
    if folder.exists() and not folder.is_dir():
        raise cli.UsageError(f"{folder} is not a folder")
    request = {"top": args.top, "synthesis_model": args.synthesis_model}
    with cli.connect(args, timeout=TIMEOUT_SECONDS) as client:
        reply = client.request(p.Request(name="report.data", args=request))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)

    from llmojid.client import report  # matplotlib: imported only by this command

    rendered = report.render(reply.value)
    try:
        path = report.write_report(folder, rendered.html)
    except OSError as exc:
        raise cli.UsageError(f"cannot write the report in {folder}: {exc.strerror or type(exc).__name__}") from None
    print(f"wrote {path} ({rendered.faces} faces, {rendered.charts} charts)")
    if rendered.missing_glyphs:
        print(f"note: {len(rendered.missing_glyphs)} face character(s) have no font here; see the report's footer")
    if args.open:
        import webbrowser

        if not webbrowser.open(path.as_uri()):
            print(f"no browser found: open {path.as_uri()} yourself")
    return EXIT_OK
