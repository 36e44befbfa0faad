"""llmojid's settings: one typed struct, layered default < file < environment < flag, each value's source kept.

Why layers with recorded sources: a user who asks "why is the daemon listening *there*?" needs the answer, and
``llmojid-ctl config show`` gives it from ``LoadedConfig.sources``. The file is ``config.toml`` in the user config
dir (the caller passes its path: ``common`` does not know where things live, ``llmojid.client.paths`` does).

Environment variables are ``LLMOJID_`` + the key in upper case (``LLMOJID_HOOK_TIMEOUT_MS=500``); ``LLMOJID_SOCKET``
is the one ``llmojid.client.paths`` already honours. Flags are what a command line gave (``None`` means "not
given").

Error handling: every problem is a ``ConfigError`` whose message names the key and where it came from (the file's
path, the variable's name, the flag) and what was expected, never the value itself: a mistyped value may be
something the user did not mean to show (a path under a private folder, a token pasted into the wrong line).
Nothing falls back silently: a config that does not parse is refused as a whole.

The file is refused, like OpenSSH refuses its config, when another user could write it (foreign owner, or
group/other write bits): it names the model file the daemon loads and the socket it serves on.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args, get_origin

import msgspec

CONFIG_FILENAME: Final = "config.toml"
ENV_PREFIX: Final = "LLMOJID_"

SourceKind = Literal["default", "file", "environment", "flag"]
LogLevel = Literal["debug", "info", "warning", "error"]
EmbeddedModelName = Literal["smollm2-135m", "gemma3-270m"]  # daemon/model/embedded.py EMBEDDED_MODELS
SynthesisMethod = Literal["scoring", "generation", "grammar"]  # "grammar" = "generation" (older name)


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """The effective settings. Each field's ``description`` is what ``config show`` and error messages print."""

    socket: Annotated[
        str, msgspec.Meta(description="socket path; empty = $XDG_RUNTIME_DIR/llmojid/llmojid.sock (or the temp dir)")
    ] = ""
    idle_exit_seconds: (
        Annotated[
            float,
            msgspec.Meta(
                ge=0,
                description="exit after this long with no connection; 0 = never; "
                "unset = 600 when socket-activated, never when started by hand",
            ),
        ]
        | None
    ) = None
    hook_timeout_ms: Annotated[
        int, msgspec.Meta(ge=1, le=60_000, description="how long a hook waits for the daemon's ack before spooling")
    ] = 300
    model_path: Annotated[str, msgspec.Meta(description="a GGUF file; empty = the embedded model")] = ""
    embedded_model: Annotated[
        EmbeddedModelName, msgspec.Meta(description="the embedded model used when model_path is empty")
    ] = "smollm2-135m"
    model_threads: Annotated[int, msgspec.Meta(ge=1, le=512, description="llama.cpp threads")] = 2
    model_context: Annotated[int, msgspec.Meta(ge=256, le=1_048_576, description="llama.cpp context (tokens)")] = 4096
    model_idle_unload_seconds: Annotated[
        float, msgspec.Meta(ge=0, description="unload the model after this long unused; 0 = never")
    ] = 300.0
    synthesis_method: Annotated[SynthesisMethod, msgspec.Meta(description="scoring, or generation")] = "scoring"
    synthesis_backend_url: Annotated[
        str,
        msgspec.Meta(
            description="an OpenAI-compatible endpoint for analyze (http(s)://... or unix:/path); empty = the local "
            "model. `service install` lets the unit open inet sockets only when this is an http(s) URL"
        ),
    ] = ""
    synthesis_backend_model: Annotated[str, msgspec.Meta(description="the model name the backend serves")] = ""
    synthesis_allow_remote: Annotated[
        bool, msgspec.Meta(description="let analyze send sanitized samples to a backend on another host")
    ] = False
    retain_text_days: Annotated[
        int, msgspec.Meta(ge=0, description="drop raw journal text after this many days (counts stay); 0 = keep")
    ] = 0
    log_level: Annotated[LogLevel, msgspec.Meta(description="debug, info, warning or error")] = "info"


class Source(msgspec.Struct, frozen=True):
    """Where one value came from: ``kind`` plus the file path, variable name or flag that gave it."""

    kind: SourceKind
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


class LoadedConfig(msgspec.Struct, frozen=True):
    config: Config
    sources: dict[str, Source]
    file: Path
    file_exists: bool


class ConfigError(Exception):
    """A setting that cannot be used. The message names the key and its origin, never the value."""


KEYS: Final[tuple[str, ...]] = Config.__struct_fields__


def env_var(key: str) -> str:
    """The environment variable that sets ``key``."""
    return ENV_PREFIX + key.upper()


def describe(key: str) -> str:
    """The one-line description of ``key`` (from the struct's metadata)."""
    return str(_meta(key).get("description", ""))


def config_file(config_dir: Path, env: Mapping[str, str] | None = None) -> Path:
    """``$LLMOJID_CONFIG`` if set (a test or a second instance), else ``config_dir/config.toml``."""
    environ = os.environ if env is None else env
    override = environ.get(ENV_PREFIX + "CONFIG", "")
    return Path(override) if override else config_dir / CONFIG_FILENAME


def load(
    path: Path, *, env: Mapping[str, str] | None = None, flags: Mapping[str, object] | None = None
) -> LoadedConfig:
    """Read ``path`` (a missing file is fine: defaults), then apply the environment, then flags.

    Raises:
        ConfigError: the file is unreadable, not TOML, writable by others, or has an unknown key or a wrong type;
            an environment variable or flag has a wrong type.
    """
    text: str | None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        text = None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    else:
        _check_file_owner(path, st)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            raise ConfigError(f"cannot read config file {path}: {reason}") from None
    return resolve(text, path, env=os.environ if env is None else env, flags=flags or {})


def resolve(file_text: str | None, path: Path, *, env: Mapping[str, str], flags: Mapping[str, object]) -> LoadedConfig:
    """Pure layering: the file's text (None when there is no file), the environment and flags, to a config."""
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {key: Source("default") for key in KEYS}
    if file_text is not None:
        for key, value in parse_file(file_text, path).items():
            values[key] = value
            sources[key] = Source("file", str(path))
    for key in KEYS:
        name = env_var(key)
        if name in env:
            values[key] = _convert(key, env[name], strict=False, origin=f"environment variable {name}")
            sources[key] = Source("environment", name)
    for key, value in flags.items():
        if value is None:
            continue
        if key not in KEYS:
            raise ConfigError(f"unknown setting '{key}' given as a flag")
        values[key] = _convert(key, value, strict=True, origin="the command line")
        sources[key] = Source("flag", "--" + key.replace("_", "-"))
    return LoadedConfig(
        config=msgspec.convert(values, Config), sources=sources, file=path, file_exists=file_text is not None
    )


def parse_file(text: str, path: Path) -> dict[str, Any]:
    """The file's settings, each checked against its type. Raises ConfigError naming the key and the file."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's messages give a position and what was expected, not the text itself.
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown key '{unknown[0]}'"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            + f"; known keys: {', '.join(KEYS)}"
        )
    return {key: _convert(key, value, strict=True, origin=f"config file {path}") for key, value in raw.items()}


def to_toml_value(value: object) -> str:
    """A value as TOML would spell it (for ``config show``)."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


# --- helpers -------------------------------------------------------------------------------------------------------
def _field_type(key: str) -> Any:
    for field in msgspec.structs.fields(Config):
        if field.name == key:
            return field.type
    raise KeyError(key)


def _meta(key: str) -> dict[str, Any]:
    """The ``msgspec.Meta`` of a field (looking inside ``X | None`` too), as a dict of its settings."""
    found: dict[str, Any] = {}

    def walk(tp: Any) -> None:
        if get_origin(tp) is Annotated:
            for extra in tp.__metadata__:
                if isinstance(extra, msgspec.Meta):
                    found.update({k: v for k in ("ge", "le", "description") if (v := getattr(extra, k)) is not None})
        for arg in get_args(tp):
            walk(arg)

    walk(_field_type(key))
    return found


def _expectation(key: str) -> str:
    """What a valid value of ``key`` looks like, for an error message."""
    tp = _field_type(key)
    names = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}
    base = tp
    while get_origin(base) is Annotated or (get_args(base) and type(None) in get_args(base)):
        base = get_args(base)[0]
    choices = get_args(base) if get_origin(base) is Literal else ()
    if choices:
        return "one of " + ", ".join(repr(c) for c in choices)
    text = names.get(getattr(base, "__name__", ""), "a value of the right type")
    meta = _meta(key)
    if "ge" in meta and "le" in meta:
        text += f" from {meta['ge']} to {meta['le']}"
    elif "ge" in meta:
        text += f" of at least {meta['ge']}"
    return text


def _convert(key: str, value: object, *, strict: bool, origin: str) -> Any:
    """``value`` converted to ``key``'s type, or a ConfigError naming the key, its origin and the expectation."""
    tp = _field_type(key)
    if isinstance(value, bool) and not _accepts_bool(tp):
        # msgspec accepts a bool where an int is expected only in lax mode; a TOML `true` is never a number.
        raise ConfigError(f"{origin}: key '{key}' must be {_expectation(key)}")
    try:
        return msgspec.convert(value, tp, strict=strict)
    except msgspec.ValidationError:
        raise ConfigError(f"{origin}: key '{key}' must be {_expectation(key)}") from None


def _accepts_bool(tp: Any) -> bool:
    return tp is bool or any(_accepts_bool(arg) for arg in get_args(tp))


def _check_file_owner(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"config file {path} is not a regular file")
    if st.st_uid != os.getuid():
        raise ConfigError(f"config file {path} is owned by uid {st.st_uid}, not by us; refusing to read it")
    if st.st_mode & 0o022:
        raise ConfigError(
            f"config file {path} is writable by other users (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run chmod go-w '{path}'"
        )
