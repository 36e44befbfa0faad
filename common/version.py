"""The installed llmojid version (one definition: pyproject.toml, read back through package metadata)."""

from __future__ import annotations

from importlib import metadata

try:
    VERSION = metadata.version("llmojid")
except metadata.PackageNotFoundError:  # running from a source tree without an install
    VERSION = "0.0.0+source"
