"""The model's settings, taken from the project config (`llmojid.common.config`: file < environment < flag).

Why an adapter: the runner and the analyze job want one small struct with their own names and bounds; the project
config owns the file format, its checks and `config show`. Keys read (all optional):

    model_path                  a GGUF file; empty = the embedded model named by `embedded_model`
    embedded_model              "smollm2-135m" or "gemma3-270m" (daemon/model/embedded.py)
    model_threads, model_context, model_idle_unload_seconds (0 = never unload)
    synthesis_method            "scoring" (default) or "generation" ("grammar" is read as "generation")
    synthesis_backend_url, synthesis_backend_model, synthesis_allow_remote   the optional backend (the
                                `analyze` flags --backend-url, --backend-model, --allow-remote override them per run)
    synthesis_deadline_seconds, synthesis_max_tokens   used when the project config has them; until then the
                                defaults below apply and `llmojid-ctl analyze` flags set them per run

Error handling: a config the project loader refuses is a `SettingsError` carrying its message (which names the
key and file, never a value).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec


class SettingsError(Exception):
    """The config cannot be used. The message names the file and key, never a value."""


class ModelSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Defaults are the embedded model's: small context, two threads, unload after five idle minutes."""

    model_path: str = ""
    embedded_model: str = ""
    n_threads: int = 2
    n_ctx: int = 4096
    idle_unload_seconds: float = 300.0
    deadline_seconds: float = 60.0
    max_tokens: int = 96
    method: str = "scoring"
    backend_url: str = ""
    backend_model: str = ""
    allow_remote: bool = False


def from_config(config: Any) -> ModelSettings:
    """Map a `llmojid.common.config.Config` (or anything with its attribute names) to `ModelSettings`."""
    defaults = ModelSettings()

    def get(name: str, default: Any) -> Any:
        value = getattr(config, name, None)
        return default if value is None else value

    idle = float(get("model_idle_unload_seconds", defaults.idle_unload_seconds))
    method = str(get("synthesis_method", defaults.method))
    return ModelSettings(
        model_path=str(get("model_path", "")),
        embedded_model=str(get("embedded_model", "")),
        n_threads=int(get("model_threads", defaults.n_threads)),
        n_ctx=int(get("model_context", defaults.n_ctx)),
        idle_unload_seconds=idle if idle > 0 else math.inf,
        deadline_seconds=float(get("synthesis_deadline_seconds", defaults.deadline_seconds)),
        max_tokens=int(get("synthesis_max_tokens", defaults.max_tokens)),
        method="generation" if method == "grammar" else method,
        backend_url=str(get("synthesis_backend_url", "")),
        backend_model=str(get("synthesis_backend_model", "")),
        allow_remote=bool(get("synthesis_allow_remote", False)),
    )


def load_settings(config_dir: Path) -> ModelSettings:
    """Read the project config (its file in `config_dir`, `$LLMOJID_CONFIG`, `LLMOJID_*` variables).

    Raises:
        SettingsError: the project loader refused the config.
    """
    try:
        from llmojid.common import config as project_config
    except ImportError:  # the project config module is not installed in this build: defaults
        return ModelSettings()
    try:
        loaded = project_config.load(project_config.config_file(config_dir))
    except project_config.ConfigError as exc:
        raise SettingsError(str(exc)) from None
    return from_config(loaded.config)
