"""The second embedded model: Gemma 3 270M assembled from its four chunk packages, digest-checked before
llama.cpp opens it, and chosen by config or by `analyze --embedded-model`."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import sys
from pathlib import Path

import pytest

from llmojid.common import config as project_config
from llmojid.daemon.model import embedded
from llmojid.daemon.model import runner as rn
from llmojid.daemon.model.settings import load_settings
from tests.support import DaemonProcess


def _parts(tmp_path: Path, blobs: list[bytes]) -> list[tuple[Path, str]]:
    parts = []
    for index, blob in enumerate(blobs):
        path = tmp_path / f"model.gguf.part{index:02d}"
        path.write_bytes(blob)
        parts.append((path, hashlib.sha256(blob).hexdigest()))
    return parts


def test_the_real_chunks_assemble_once_into_the_data_dir_with_the_pinned_digest(tmp_path: Path) -> None:
    path = embedded.ensure_embedded(embedded.GEMMA3, tmp_path)
    assert path == tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf"
    assert embedded.file_sha256(path) == "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    assert oct(path.parent.stat().st_mode & 0o777) == oct(0o700)
    inode, mtime = path.stat().st_ino, path.stat().st_mtime_ns
    assert embedded.ensure_embedded(embedded.GEMMA3, tmp_path) == path
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (inode, mtime), "a verified file is not rewritten"
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary file is left behind"


def test_the_chunk_packages_are_found_without_importing_them() -> None:
    for chunk in embedded.GEMMA3.chunks:
        path = embedded.packaged_file(chunk.distribution, chunk.filename)
        assert path.is_file() and path.name == chunk.filename
    assert not any(name.startswith("gemma3_270m") for name in sys.modules)
    # the pinned chunk digests agree with what the packages' own RECORD says
    for chunk in embedded.GEMMA3.chunks:
        (entry,) = [
            f for f in importlib.metadata.distribution(chunk.distribution).files or () if f.name == chunk.filename
        ]
        assert entry.hash is not None and entry.hash.mode == "sha256"
        assert entry.hash.value == base64.urlsafe_b64encode(bytes.fromhex(chunk.sha256)).rstrip(b"=").decode()


def test_a_corrupted_chunk_is_refused_with_its_path_named_and_nothing_written(tmp_path: Path) -> None:
    blobs = [b"GGUF" + b"a" * 1000, b"b" * 1000, b"c" * 500]
    parts = _parts(tmp_path, blobs)
    target = tmp_path / "out" / "model.gguf"
    whole = hashlib.sha256(b"".join(blobs)).hexdigest()
    assert embedded.assemble(parts, target, whole).read_bytes() == b"".join(blobs)
    target.unlink()

    broken = parts[1][0]
    broken.write_bytes(b"b" * 999 + b"X")  # one byte flipped
    with pytest.raises(embedded.EmbeddedModelError) as caught:
        embedded.assemble(parts, target, whole)
    assert str(broken) in str(caught.value) and "corrupted" in str(caught.value)
    assert list(target.parent.iterdir()) == []


def test_an_assembled_file_that_does_not_match_is_refused_and_a_tampered_one_rebuilt(tmp_path: Path) -> None:
    blobs = [b"GGUF" + b"a" * 100, b"b" * 100]
    parts = _parts(tmp_path, blobs)
    target = tmp_path / "out" / "model.gguf"
    with pytest.raises(embedded.EmbeddedModelError) as caught:
        embedded.assemble(parts, target, "0" * 64)
    assert str(target) in str(caught.value)
    assert list(target.parent.iterdir()) == [], "the mismatching file never takes the real name"

    whole = hashlib.sha256(b"".join(blobs)).hexdigest()
    embedded.assemble(parts, target, whole)
    target.write_bytes(b"GGUF tampered")
    assert embedded.assemble(parts, target, whole).read_bytes() == b"".join(blobs)


def test_the_runner_assembles_checks_and_loads_gemma(tmp_path: Path) -> None:
    runner = rn.ModelRunner(rn.RunnerConfig(embedded="gemma3-270m", data_dir=tmp_path, n_ctx=256, n_threads=1))
    assert runner.model_id == "gemma-3-270m-q4_k_m.gguf"
    assert not runner.model_path.exists(), "resolving the path assembles nothing"
    try:
        runner.load()
        assert runner.is_loaded and runner.model_path.is_file()
    finally:
        runner.close()
    # a file swapped under the assembled name is caught by the digest before llama.cpp sees it, and rebuilt
    runner.model_path.write_bytes(b"GGUF" + bytes(100))
    again = rn.ModelRunner(rn.RunnerConfig(embedded="gemma3-270m", data_dir=tmp_path, n_ctx=256, n_threads=1))
    try:
        again.load()
        assert embedded.file_sha256(again.model_path) == embedded.GEMMA3.sha256
    finally:
        again.close()


def test_an_unknown_embedded_model_is_a_model_error() -> None:
    with pytest.raises(rn.ModelError, match="unknown embedded model"):
        rn.default_model_path("llama-70b")


def test_the_choice_by_config(tmp_path: Path) -> None:
    assert load_settings(tmp_path).embedded_model == embedded.DEFAULT_EMBEDDED  # unset: the default
    (tmp_path / project_config.CONFIG_FILENAME).write_text('embedded_model = "gemma3-270m"\n')
    assert load_settings(tmp_path).embedded_model == "gemma3-270m"
    (tmp_path / project_config.CONFIG_FILENAME).write_text('embedded_model = "gpt-9"\n')
    with pytest.raises(Exception, match="embedded_model"):
        load_settings(tmp_path)


def _plan_model(daemon: DaemonProcess, *args: str) -> str:
    lines = [json.loads(x) for x in daemon.ctl("analyze", "--dry-run", "--json", *args).stdout.splitlines()]
    plan = lines[-1]
    assert plan["event"] == "plan"
    assert plan["model"] in plan["estimate_basis"], "the dry run estimates with the chosen model"
    return str(plan["model"])


def test_the_choice_by_flag_and_by_config_through_the_daemon(workdir: Path, daemon_env: dict[str, str]) -> None:
    daemon = DaemonProcess(workdir, daemon_env).start()
    try:
        default = rn.default_model_path().name
        assert _plan_model(daemon) == default
        assert _plan_model(daemon, "--embedded-model", "gemma3-270m") == "gemma-3-270m-q4_k_m.gguf"
        assert _plan_model(daemon, "--embedded-model", "smollm2-135m") == "SmolLM2-135M-Instruct.Q4_1.gguf"
        refused = daemon.ctl("analyze", "--model", "/x.gguf", "--embedded-model", "gemma3-270m", check=False)
        assert refused.returncode == 2 and b"exclude each other" in refused.stderr
        config = Path(daemon_env["XDG_CONFIG_HOME"]) / "llmojid" / project_config.CONFIG_FILENAME
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text('embedded_model = "gemma3-270m"\n')
        config.chmod(0o600)
        assert _plan_model(daemon) == "gemma-3-270m-q4_k_m.gguf"  # the config is read per request
        assert _plan_model(daemon, "--embedded-model", "smollm2-135m") == "SmolLM2-135M-Instruct.Q4_1.gguf"
    finally:
        assert daemon.stop() == 0, daemon.log()
