"""Fuzzing in the normal suite: the regression corpus replayed, and a short bounded atheris run per target."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.targets import TARGETS

CORPUS = Path(__file__).resolve().parents[1] / "fuzz" / "corpus"
CI_SECONDS = 4


def corpus_files() -> list[tuple[str, Path]]:
    return [(name, f) for name in TARGETS for f in sorted((CORPUS / name).glob("*")) if f.is_file()]


@pytest.mark.parametrize(("name", "path"), corpus_files(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_corpus_replays_cleanly(name: str, path: Path) -> None:
    TARGETS[name](path.read_bytes())


def test_every_target_has_a_seed_corpus() -> None:
    for name in TARGETS:
        assert any((CORPUS / name).glob("*")), f"fuzz/corpus/{name} is empty"


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed (scripts/setup adds it)")
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_short_atheris_run(name: str, tmp_path: Path) -> None:
    shutil.copytree(CORPUS / name, tmp_path / "corpus" / name)  # new inputs land in the copy, not the repo
    result = subprocess.run(
        [sys.executable, str(CORPUS.parent / "run.py"), name, "--seconds", str(CI_SECONDS), "--corpus", "corpus"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert not list(tmp_path.glob("crash-*"))
