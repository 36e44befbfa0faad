"""``llmojid-ctl bundle build | show | export --tar PATH | upload --hf-repo REPO``: the shareable aggregates.

``build`` and ``show`` ask the daemon (it opens the sealed synthesis cache; the layout is spec section 5, see
``llmojid.daemon.privacy.bundle``). The bundle folder defaults to ``<data dir>/bundle`` (``~/.local/share/llmojid/
bundle`` on Linux); ``--folder`` picks another.

``export`` and ``upload`` run here, on the folder, and send only what was reviewed: the folder is read once
(refused if it holds anything but ``manifest.json`` and ``<slug>.jsonl`` regular files), the daemon's auditor
checks it (schema, lexicon, no personal data, no journal text), the folder is read again and must be unchanged,
and only those bytes go out. The tarball is reproducible and anonymous: members sorted, flat, mode 0644, owner
and group 0 with no names, mtime from the manifest's ``generated_at``, gzip header without name or time.

``upload`` needs the optional extra (``pip install 'llmojid[hub]'``, i.e. ``huggingface_hub``). It opens a pull
request (a commit on a new PR branch, never on ``main``: a contributor rarely has write access, and a push to
``main`` would put the account in the history of every clone) that adds the reviewed bytes, as they are, under
``contributors/<submitter_id>/bundle-<generated_at, UTC>/``, the layout the corpus gives submissions. No account
name or token is in the files (``huggingface_hub`` authenticates with the token it keeps, in a request header),
but the pull request itself is opened by the account: before asking, the command says so plainly and names the
route that reveals no account (``bundle export --tar``, then the corpus maintainers' own submission route).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import stat
import sys
import tarfile
import tempfile
from calendar import timegm
from pathlib import Path
from time import strptime
from typing import Any, Final

from llmojid.client import cli, paths
from llmojid.client import protocol as p

MANIFEST: Final = "manifest.json"
ROWS_SUFFIX: Final = ".jsonl"
#: The check ran and refused (the folder holds something else, or the review found a problem).
EXIT_REFUSED: Final = 4
MAX_FILE_BYTES: Final = 16 * 1024 * 1024
TIMEOUT_SECONDS: Final = 300.0


class Refused(Exception):
    """The folder is not a bundle that may leave the machine; the message says why (names, never content)."""


def default_folder() -> Path:
    return paths.data_dir() / "bundle"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("bundle", help="build, preview, export or upload the shareable bundle")
    parser.add_argument("--folder", help="the bundle folder (default: <data dir>/bundle)")
    sub = parser.add_subparsers(dest="bundle_command", required=True, metavar="SUBCOMMAND")
    build = sub.add_parser("build", help="write the bundle from the synthesis cache (run analyze first)")
    build.add_argument("--notes", default="", help="free text for the manifest (personal data is redacted)")
    build.add_argument(
        "--synthesis-model",
        default="",
        help="use this synthesis model's results (default: the one with the most faces)",
    )
    build.add_argument("--json", action="store_true")
    build.set_defaults(func=run_build)
    show = sub.add_parser("show", help="preview the bundle face by face")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=run_show)
    export = sub.add_parser("export", help="write the reviewed bundle as a tarball")
    export.add_argument("--tar", required=True, metavar="PATH", help="the tarball to write (.tar, .tar.gz or .tgz)")
    export.set_defaults(func=run_export)
    upload = sub.add_parser(
        "upload", help="open a pull request with the reviewed bundle on a Hugging Face dataset (optional extra)"
    )
    upload.add_argument("--hf-repo", required=True, metavar="REPO", help="the dataset repository, owner/name")
    upload.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    upload.set_defaults(func=run_upload)


def _folder(args: argparse.Namespace) -> Path:
    return Path(os.path.abspath(os.path.expanduser(args.folder))) if args.folder else default_folder()


# --- daemon-side commands ------------------------------------------------------------------------------------------
def run_build(args: argparse.Namespace) -> int:
    request: dict[str, object] = {"notes": args.notes, "synthesis_model": args.synthesis_model}
    if args.folder:
        request["folder"] = str(_folder(args))
    with cli.connect(args, timeout=TIMEOUT_SECONDS) as client:
        reply = client.request(p.Request(name="bundle.build", args=request))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    value = reply.value
    if args.json:
        cli.print_json(value)
        return cli.EXIT_OK
    state = "unchanged" if value["unchanged"] else "written"
    print(f"bundle {state}: {value['folder']}")
    print(f"  {value['faces']} face(s) of {value['models']} model(s), {value['rows']} journal row(s)")
    print(f"  synthesis: {value['synthesis_model_id']} ({value['synthesis_backend']})")
    if value["notes_redacted"]:
        print(f"  notes: redacted {', '.join(value['notes_redacted'])}")
    print("review it with `llmojid-ctl bundle show`; share it with `bundle export --tar PATH`")
    return cli.EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    request: dict[str, object] = {"folder": str(_folder(args))} if args.folder else {}
    with cli.connect(args) as client:
        reply = client.request(p.Request(name="bundle.show", args=request))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    value = reply.value
    if args.json:
        cli.print_json(value)
        return cli.EXIT_OK if not value["problems"] else EXIT_REFUSED
    manifest = value.get("manifest", {})
    print(f"bundle {value['folder']}")
    for key in ("llmoji_version", "synthesis_model_id", "synthesis_backend", "generated_at", "submitter_id"):
        print(f"  {key:<22} {manifest.get(key, '')}")
    print(f"  {'providers_seen':<22} {', '.join(manifest.get('providers_seen', []))}")
    print(f"  {'notes':<22} {manifest.get('notes', '')}")
    for name, rows in value.get("files", {}).items():
        print(f"\n{name}  ({len(rows)} face(s))")
        for row in rows:
            bag = row.get("synthesis", {})
            print(
                f"  {row.get('kaomoji', ''):<16} {row.get('count', 0):>6}  {', '.join(bag.get('primary_affect', []))}"
                f"  |  {', '.join(bag.get('stance_modality_function', []))}"
            )
    for problem in value["problems"]:
        print(f"llmojid-ctl: bundle problem: {problem}", file=sys.stderr)
    return cli.EXIT_OK if not value["problems"] else EXIT_REFUSED


# --- client-side: review, export, upload ---------------------------------------------------------------------------
def allowed_name(name: str) -> bool:
    if name == MANIFEST:
        return True
    stem = name[: -len(ROWS_SUFFIX)] if name.endswith(ROWS_SUFFIX) else ""
    return bool(stem) and not stem.startswith(".") and stem == stem.lower() and "\\" not in stem


def read_flat(folder: Path) -> dict[str, bytes]:
    """The folder's files, or Refused when it holds anything a bundle never holds. Follows no symlink."""
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        raise Refused(f"there is no bundle at {folder}: run llmojid-ctl bundle build") from None
    if not stat.S_ISDIR(st.st_mode):
        raise Refused(f"{folder} is not a folder (a symlink or a file)")
    files: dict[str, bytes] = {}
    for name in sorted(os.listdir(folder)):
        est = os.lstat(folder / name)
        if stat.S_ISLNK(est.st_mode):
            raise Refused(f"the bundle folder holds a symlink ({name!r}); a bundle holds only regular files")
        if stat.S_ISDIR(est.st_mode):
            raise Refused(f"the bundle folder holds a subfolder ({name!r}); a bundle is flat")
        if not stat.S_ISREG(est.st_mode) or not allowed_name(name):
            raise Refused(f"the bundle folder holds a foreign file ({name!r}); only {MANIFEST} and <slug>.jsonl")
        if est.st_size > MAX_FILE_BYTES:
            raise Refused(f"{name!r} is larger than any bundle file")
        fd = os.open(folder / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            files[name] = handle.read()
    if MANIFEST not in files:
        raise Refused(f"the bundle folder has no {MANIFEST}")
    return files


def reviewed(args: argparse.Namespace, folder: Path) -> dict[str, bytes]:
    """Read, have the daemon's auditor check, read again: the bytes that may leave the machine."""
    first = read_flat(folder)
    with cli.connect(args, timeout=TIMEOUT_SECONDS) as client:
        reply = client.request(p.Request(name="audit", args={"only": ["bundle"], "folder": str(folder)}))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    failures = reply.value.get("failures", [])
    if failures:
        raise Refused("the review failed: " + "; ".join(f"{f['where']}: {f['message']}" for f in failures))
    if read_flat(folder) != first:
        raise Refused("the bundle folder changed during the review; run the command again")
    return first


def tar_bytes(files: dict[str, bytes], *, gzipped: bool) -> bytes:
    """A reproducible, anonymous tarball of ``files`` (see the module docstring)."""
    mtime = 0
    try:
        generated = json.loads(files[MANIFEST])["generated_at"]
        mtime = timegm(strptime(generated, "%Y-%m-%dT%H:%M:%SZ"))
    except (KeyError, ValueError, TypeError):
        mtime = 0
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = mtime
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[name]))
    if not gzipped:
        return raw.getvalue()
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def run_export(args: argparse.Namespace) -> int:
    target = Path(os.path.abspath(os.path.expanduser(args.tar)))
    try:
        files = reviewed(args, _folder(args))
    except Refused as exc:
        print(f"llmojid-ctl: bundle export refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    data = tar_bytes(files, gzipped=target.name.endswith((".gz", ".tgz")))
    fd, tmp = tempfile.mkstemp(prefix=".llmojid-export-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(f"wrote {target} ({len(files)} file(s), {len(data)} bytes)")
    return cli.EXIT_OK


def submission_folder(manifest: bytes) -> str:
    """Where a bundle goes in the corpus: ``contributors/<submitter_id>/bundle-<generated_at as YYYYMMDDTHHMMSSZ>``.

    Raises:
        Refused: the manifest lacks a well-formed ``submitter_id`` or ``generated_at`` (the review checks both, so
            this is a folder changed behind our back).
    """
    try:
        fields = json.loads(manifest)
        submitter = str(fields["submitter_id"])
        stamp = strptime(str(fields["generated_at"]), "%Y-%m-%dT%H:%M:%SZ")
    except (KeyError, TypeError, ValueError):
        raise Refused(f"{MANIFEST} has no valid submitter_id and generated_at") from None
    if len(submitter) != 32 or any(c not in "0123456789abcdef" for c in submitter):
        raise Refused(f"{MANIFEST} has no valid submitter_id")
    return f"contributors/{submitter}/bundle-{stamp.tm_year:04d}{stamp.tm_mon:02d}{stamp.tm_mday:02d}T" + (
        f"{stamp.tm_hour:02d}{stamp.tm_min:02d}{stamp.tm_sec:02d}Z"
    )


def run_upload(args: argparse.Namespace) -> int:
    try:
        from huggingface_hub import CommitOperationAdd, HfApi
    except ImportError:
        print("llmojid-ctl: bundle upload needs the optional extra: pip install 'llmojid[hub]'", file=sys.stderr)
        return cli.EXIT_USAGE
    try:
        files = reviewed(args, _folder(args))
        target = submission_folder(files[MANIFEST])
    except Refused as exc:
        print(f"llmojid-ctl: bundle upload refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"About to open a pull request on the Hugging Face dataset {args.hf_repo}, adding under {target}/:")
    for name in sorted(files):
        print(f"  {name}  ({len(files[name])} bytes)")
    print(
        "The files name no account, but the pull request is opened by your Hugging Face account (the one your "
        "token belongs to): that account's name will be visible on the pull request to anyone who can see the "
        "dataset.\nTo share without revealing any account: llmojid-ctl bundle export --tar bundle.tar.gz, then "
        "send the tarball by the corpus maintainers' own submission route."
    )
    if not args.yes:
        print("Open the pull request under your account? [y/N] ", end="", file=sys.stderr, flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            print("llmojid-ctl: nothing uploaded", file=sys.stderr)
            return cli.EXIT_USAGE
    operations = [
        CommitOperationAdd(path_in_repo=f"{target}/{name}", path_or_fileobj=data) for name, data in files.items()
    ]
    commit = HfApi().create_commit(
        repo_id=args.hf_repo,
        repo_type="dataset",
        operations=operations,
        commit_message="Add an llmoji bundle",
        commit_description=f"An llmoji bundle ({len(files)} files) under {target}/, made by llmojid.",
        create_pr=True,
    )
    pr_url = getattr(commit, "pr_url", None) or ""
    print(f"opened a pull request adding {len(files)} file(s) to {args.hf_repo} under {target}/: {pr_url}".rstrip(": "))
    return cli.EXIT_OK
