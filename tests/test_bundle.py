"""The bundle end to end: build from the sealed synthesis cache, show, export a reviewed tarball, upload.

The upload test cannot reach the Hugging Face hub from here, so it runs against a local stand-in for the hub: a
``huggingface_hub`` module written into a temporary folder on ``PYTHONPATH`` that records what ``create_commit``
and ``upload_folder`` were given. It stands in for the hub only; everything of ours (CLI, daemon, review) is real.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import tarfile
from pathlib import Path

from llmojid.common.sanitizer import find_pii
from tests.support import DaemonProcess
from tests.test_audit_helpers import SYNTH_MODEL, rows, seed_cache, submit

HUB_STANDIN = '''
"""A local stand-in for the Hugging Face hub (tests only): records what would have been uploaded."""
import json, os, pathlib

class CommitOperationAdd:
    def __init__(self, path_in_repo, path_or_fileobj):
        self.path_in_repo, self.data = path_in_repo, path_or_fileobj

class CommitInfo:
    def __init__(self, pr_url):
        self.pr_url = pr_url

class HfApi:
    def create_commit(self, *, operations, **kwargs):
        record = pathlib.Path(os.environ["LLMOJID_TEST_HUB_RECORD"])
        files = {op.path_in_repo: op.data.decode("utf-8") for op in operations}
        record.write_text(json.dumps({"call": "create_commit", "kwargs": {k: v for k, v in kwargs.items()},
                                      "files": files}))
        return CommitInfo("https://hub.invalid/datasets/x/discussions/7" if kwargs.get("create_pr") else None)

    def upload_folder(self, **kwargs):
        record = pathlib.Path(os.environ["LLMOJID_TEST_HUB_RECORD"])
        folder = pathlib.Path(kwargs["folder_path"])
        files = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}
        record.write_text(json.dumps({"kwargs": {k: str(v) for k, v in kwargs.items() if k != "folder_path"},
                                      "files": files}))
        return "https://hub.invalid/commit/0"
'''


def _path_with(folder: Path, env: dict[str, str]) -> str:
    return os.pathsep.join(x for x in (str(folder), env.get("PYTHONPATH", "")) if x)


def bundle_dir(proc: DaemonProcess) -> Path:
    return Path(proc.env["XDG_DATA_HOME"]) / "llmojid" / "bundle"


def _filled(proc: DaemonProcess) -> None:
    assert submit(proc, rows("B1", 7)) == 7
    assert submit(proc, rows("B2", 3, model="openai/gpt-5:high", harness="codex", day=5)) == 3
    assert seed_cache(proc) == 3
    assert seed_cache(proc, source_model="openai/gpt-5:high") == 3


def test_build_show_and_export_are_reproducible(daemon: DaemonProcess, workdir: Path) -> None:
    submit(daemon, rows("B0", 1, start=900))
    early = daemon.ctl("bundle", "build", check=False)  # nothing synthesized yet
    assert early.returncode == 1 and b"analyze" in early.stderr and not bundle_dir(daemon).exists()
    _filled(daemon)
    built = daemon.ctl_json("bundle", "build", "--json", "--notes", "first try, mail me at alice.smith@example.com")
    folder = bundle_dir(daemon)
    assert built["folder"] == str(folder) and built["faces"] == 6 and built["models"] == 2
    assert built["notes_redacted"] == ["EMAIL"] and not built["unchanged"]
    assert sorted(os.listdir(folder)) == ["claude-test.jsonl", "manifest.json", "openai__gpt-5-high.jsonl"]
    first = {name: (folder / name).read_bytes() for name in os.listdir(folder)}
    manifest = json.loads(first["manifest.json"])
    assert manifest["model_counts"] == {"claude-test": 8, "openai/gpt-5:high": 3}
    assert manifest["total_synthesized_rows"] == 11 and manifest["providers_seen"] == ["claude-code", "codex"]
    assert manifest["synthesis_model_id"] == SYNTH_MODEL and manifest["synthesis_backend"] == "llama.cpp"
    assert manifest["generated_at"] == "2026-11-05T10:00:02Z"  # the newest journal row covered, not the clock
    assert len(manifest["submitter_id"]) == 32 and "alice" not in manifest["notes"] and "[EMAIL]" in manifest["notes"]
    row = json.loads(first["claude-test.jsonl"].splitlines()[0])
    assert list(row) == ["kaomoji", "count", "synthesis"]
    assert {name: hashlib.sha256(data).hexdigest() for name, data in first.items()} == built["files"]

    again = daemon.ctl_json("bundle", "build", "--json", "--notes", "first try, mail me at alice.smith@example.com")
    assert again["unchanged"] and again["files"] == built["files"]
    assert {name: (folder / name).read_bytes() for name in os.listdir(folder)} == first

    shown = daemon.ctl("bundle", "show").stdout.decode()
    assert "(◕‿◕)" in shown and "cheery, excited" in shown and "openai__gpt-5-high.jsonl" in shown

    tar_a, tar_b = workdir / "a.tar.gz", workdir / "b.tar.gz"
    daemon.ctl("bundle", "export", "--tar", str(tar_a))
    daemon.ctl("bundle", "export", "--tar", str(tar_b))
    assert tar_a.read_bytes() == tar_b.read_bytes()
    with tarfile.open(tar_a) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == sorted(first)
        assert all(m.isfile() and m.uname == "" and m.gname == "" and m.uid == 0 for m in members)
        assert {m.name: tar.extractfile(m).read() for m in members} == first  # type: ignore[union-attr]
    assert getpass.getuser().encode() not in tar_a.read_bytes()

    # More journal rows: the bundle follows (the same journal gives the same bytes, a changed one does not).
    assert submit(daemon, rows("B3", 2, start=100)) == 2
    after = daemon.ctl_json("bundle", "build", "--json")
    assert not after["unchanged"] and (folder / "claude-test.jsonl").read_bytes() != first["claude-test.jsonl"]
    assert json.loads((folder / "manifest.json").read_bytes())["model_counts"]["claude-test"] == 10


FAULTS = ("foreign file", "subfolder", "symlink")


def test_export_and_build_refuse_a_folder_holding_anything_else(daemon: DaemonProcess, workdir: Path) -> None:
    _filled(daemon)
    daemon.ctl("bundle", "build")
    folder = bundle_dir(daemon)
    target = workdir / "out.tar"
    for fault in FAULTS:
        stray = {"foreign file": folder / "notes.txt", "subfolder": folder / "extra", "symlink": folder / "o.jsonl"}
        if fault == "foreign file":
            stray[fault].write_text("mine")
        elif fault == "subfolder":
            stray[fault].mkdir()
        else:
            stray[fault].symlink_to(workdir / "daemon.log")
        result = daemon.ctl("bundle", "export", "--tar", str(target), check=False)
        assert result.returncode == 4, (fault, result.stderr)
        assert fault.encode() in result.stderr and not target.exists()
        rebuilt = daemon.ctl("bundle", "build", check=False)
        assert rebuilt.returncode == 1 and fault.encode() in rebuilt.stderr
        if fault == "subfolder":
            stray[fault].rmdir()
        else:
            stray[fault].unlink()
    daemon.ctl("bundle", "export", "--tar", str(target))  # clean again: accepted

    path = folder / "claude-test.jsonl"
    line = json.loads(path.read_text().splitlines()[0])
    line["kaomoji"] = "call me on +1 415 555 0134"
    path.write_text(json.dumps(line) + "\n")
    result = daemon.ctl("bundle", "export", "--tar", str(workdir / "x.tar"), check=False)
    assert result.returncode == 4 and b"kaomoji" in result.stderr and b"+1 415" not in result.stderr


def test_upload_opens_a_pull_request_laid_out_as_the_corpus_does(daemon: DaemonProcess, workdir: Path) -> None:
    """Issue 15 item 7: a pull request (never a push to main), under contributors/<id>/bundle-<UTC time>/, with
    a plain word, before the question, that the account's name shows on the pull request, and the way around."""
    _filled(daemon)
    daemon.ctl("bundle", "build")
    standin = workdir / "hub-standin"
    (standin / "huggingface_hub").mkdir(parents=True)
    (standin / "huggingface_hub" / "__init__.py").write_text(HUB_STANDIN)
    record = workdir / "hub-record.json"
    token = "hf_" + "x" * 34
    daemon.env.update(PYTHONPATH=_path_with(standin, daemon.env), LLMOJID_TEST_HUB_RECORD=str(record), HF_TOKEN=token)

    declined = daemon.ctl("bundle", "upload", "--hf-repo", "someone/llmoji-bundles", input=b"n\n", check=False)
    assert declined.returncode == 2 and not record.exists()
    assert b"Open the pull request under your account?" in declined.stderr
    notice = declined.stdout.decode()
    assert "name will be visible on the pull request" in notice
    assert "bundle export --tar" in notice and "submission route" in notice

    accepted = daemon.ctl("bundle", "upload", "--hf-repo", "someone/llmoji-bundles", input=b"y\n")
    sent = json.loads(record.read_text())
    folder = bundle_dir(daemon)
    manifest = json.loads((folder / "manifest.json").read_text())
    stamp = manifest["generated_at"].replace("-", "").replace(":", "")
    target = f"contributors/{manifest['submitter_id']}/bundle-{stamp}"
    assert re.fullmatch(r"contributors/[0-9a-f]{32}/bundle-\d{8}T\d{6}Z", target)
    assert sent["call"] == "create_commit" and sent["kwargs"]["create_pr"] is True
    assert sent["kwargs"]["repo_id"] == "someone/llmoji-bundles" and sent["kwargs"]["repo_type"] == "dataset"
    assert "revision" not in sent["kwargs"]  # the hub makes the PR branch; nothing goes to main
    assert sent["files"] == {f"{target}/{name}": (folder / name).read_text() for name in sorted(os.listdir(folder))}
    payload = json.dumps(sent)
    for secret in (token, getpass.getuser(), daemon.home.name, str(daemon.home)):
        assert secret not in payload
    assert not [f for f in find_pii(payload) if f.type in ("EMAIL", "PATH", "SECRET")]
    assert b"opened a pull request adding 3 file(s)" in accepted.stdout and b"discussions/7" in accepted.stdout

    empty = workdir / "no-hub"
    (empty / "huggingface_hub").mkdir(parents=True)
    (empty / "huggingface_hub" / "__init__.py").write_text("raise ImportError('stand-in: not installed')\n")
    daemon.env.update(PYTHONPATH=_path_with(empty, daemon.env))
    result = daemon.ctl("bundle", "upload", "--hf-repo", "x/y", "--yes", check=False)
    assert result.returncode == 2 and b"llmojid[hub]" in result.stderr
