"""Importing a large chat export through the daemon: time, throughput and the daemon's peak memory.

    dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null;
                               .venv/bin/python bench/exports.py --mb 50 500'

For each size a ChatGPT ``conversations.json`` is generated (``tests/export_samples.py``: conversations of 20
exchanges, 4 kB messages, every other answer face-led), then a real daemon imports it: a dry run (one streamed
pass that counts new rows), the import (a checking pass, then the writing pass), and the same export as a zip.
The daemon's peak RSS (``VmHWM`` from ``/proc``) is read before and after: it grows by about one conversation
and the read buffers, not by the export's size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmojid.client import protocol as p
from llmojid.client.connection import Client
from tests.export_samples import write_large_chatgpt_export
from tests.support import DaemonProcess, make_env, remove_tree, short_tempdir


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def run_import(daemon: DaemonProcess, path: Path, *, dry_run: bool) -> tuple[float, int]:
    start = time.perf_counter()
    with Client(daemon.socket_path, timeout=3600) as client:
        reply = client.request(p.Request(name="journal.import_export", args={"paths": [str(path)], "dry_run": dry_run}))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    tally = reply.value["formats"]["chatgpt"]
    return time.perf_counter() - start, int(tally["rows_new"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, nargs="+", default=[50, 500], help="export sizes in MB")
    args = parser.parse_args()
    rows_out = []
    for mb in args.mb:
        root = short_tempdir("lj-bench-")
        data = Path(tempfile.mkdtemp(prefix="lj-export-", dir="/var/tmp"))
        try:
            export = data / "conversations.json"
            expected = write_large_chatgpt_export(export, mb * 1024 * 1024)
            size = export.stat().st_size
            archive = data / "export.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
                z.write(export, "conversations.json")
            daemon = DaemonProcess(root, make_env(root)).start()
            try:
                assert daemon.proc is not None
                idle = peak_kib(daemon.proc.pid)
                dry_s, dry_new = run_import(daemon, export, dry_run=True)
                real_s, new = run_import(daemon, export, dry_run=False)
                after_import = peak_kib(daemon.proc.pid)
                zip_s, zip_new = run_import(daemon, archive, dry_run=True)
                after_zip = peak_kib(daemon.proc.pid)
            finally:
                daemon.stop()
            assert dry_new == new == expected and zip_new == 0, (dry_new, new, zip_new, expected)
            rows_out.append((mb, size, expected, dry_s, real_s, zip_s, idle, after_import, after_zip))
        finally:
            remove_tree(root)
            remove_tree(data)
    print(
        "| export | rows | dry run (1 pass) | import (2 passes) | zip, dry run"
        " | daemon peak RSS: idle, after import, after zip |"
    )
    print("|---|---|---|---|---|---|")
    for _mb, size, rows, dry_s, real_s, zip_s, idle, after, after_zip in rows_out:
        print(
            f"| {size / 1e6:,.0f} MB | {rows:,} | {dry_s:.1f} s ({size / dry_s / 1e6:.0f} MB/s) | {real_s:.1f} s |"
            f" {zip_s:.1f} s | {idle / 1024:.0f} MiB, {after / 1024:.0f} MiB, {after_zip / 1024:.0f} MiB |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
