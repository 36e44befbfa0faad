"""The I/O side of the installers: read a harness's files, write them atomically, keep the install record.

- Symlinked dotfiles (a dotfiles repo linking ``~/.claude/settings.json``) are followed to their target, and the
  target is what we edit: replacing the link with a regular file would silently fork the user's dotfiles.
- Writes go to a temporary file in the target's directory, are synced, keep the target's mode, and replace it
  with ``rename``: a crash leaves the old file or the new one, never half of either. Just before the rename the
  target is read again; if it changed while we planned (the harness saved its settings), nothing is written.
- The install record (``install-record.json`` in the state directory) keeps, per edited file, the edits we made
  (our own text only: commands, wording, JSON punctuation), so uninstall can undo them exactly.

Error handling: every refusal is a SettingsError that names the path and what is wrong with it; nothing about a
file is printed but its path.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from llmojid.client.installers.edits import Edit, SettingsError
from llmojid.client.installers.harnesses import Change, FileState, Record, Role

#: A settings file larger than this is not one we edit (they are a few KiB; this bounds memory on a wrong path).
MAX_FILE_BYTES = 8 * 1024 * 1024
#: Symlinks followed before we call it a loop (the kernel's own limit is 40).
MAX_SYMLINKS = 40
RECORD_NAME = "install-record.json"
RECORD_VERSION = 1
NEW_FILE_MODE = 0o600


def resolve(path: str) -> str:
    """The file a path finally names, following every symlink (also dangling ones: a new file goes there)."""
    current = os.path.abspath(path)
    for _ in range(MAX_SYMLINKS):
        try:
            target = os.readlink(current)
        except FileNotFoundError:
            break
        except OSError as exc:
            if exc.errno == 22:  # EINVAL: not a symlink
                break
            raise SettingsError(f"{path}: cannot read the link ({exc.strerror})") from None
        current = os.path.normpath(os.path.join(os.path.dirname(current), target))
    else:
        raise SettingsError(f"{path}: too many levels of symbolic links")
    parent = os.path.realpath(os.path.dirname(current))
    return os.path.join(parent, os.path.basename(current))


def _read_bytes(target: str) -> bytes | None:
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SettingsError(f"{target}: cannot open ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SettingsError(f"{target}: is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise SettingsError(f"{target}: is larger than {MAX_FILE_BYTES} bytes; not a settings file we edit")
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _decode(target: str, raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SettingsError(f"{target}: is not UTF-8 text") from None


def read_state(role: Role, path: str, records: dict[str, Record]) -> FileState:
    """The file at ``path`` (its symlink target), ready for the planner. Raises SettingsError."""
    target = resolve(path)
    return FileState(role, target, _decode(target, _read_bytes(target)), records.get(target))


def apply(changes: Iterable[Change]) -> list[str]:
    """Write each changed file; return the paths written or removed. Raises SettingsError before any partial file."""
    done = []
    for change in changes:
        if not change.changed:
            continue
        if _decode(change.path, _read_bytes(change.path)) != change.before:
            raise SettingsError(f"{change.path}: changed while llmojid-ctl was editing it; run the command again")
        if change.after is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(change.path)
        else:
            write_atomic(change.path, change.after.encode("utf-8"))
        done.append(change.path)
    return done


def write_atomic(target: str, data: bytes, mode: int | None = None) -> None:
    """Replace ``target`` with ``data``: temp file in the same directory, fsync, rename, fsync the directory."""
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise SettingsError(f"{target}: its directory does not exist")
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".llmojid-tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# --- The install record -----------------------------------------------------------------------------------------------
def record_path(state_dir: Path) -> Path:
    return state_dir / RECORD_NAME


def load_records(state_dir: Path) -> dict[str, Record]:
    """The record, or an empty one when there is none or it is damaged (uninstall then removes by structure)."""
    try:
        raw = json.loads(record_path(state_dir).read_text(encoding="utf-8"))
        files = raw["files"] if raw.get("version") == RECORD_VERSION else {}
        return {
            path: Record(
                created=bool(entry["created"]),
                sha256=str(entry["sha256"]),
                edits=tuple(Edit.from_json(e) for e in entry["edits"]),
            )
            for path, entry in files.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save_records(state_dir: Path, records: dict[str, Record]) -> None:
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    body = {
        "version": RECORD_VERSION,
        "files": {
            path: {"created": r.created, "sha256": r.sha256, "edits": [e.to_json() for e in r.edits]}
            for path, r in sorted(records.items())
        },
    }
    write_atomic(str(record_path(state_dir)), (json.dumps(body, indent=1) + "\n").encode("utf-8"), 0o600)


def update_records(records: dict[str, Record], changes: Iterable[Change]) -> None:
    for change in changes:
        if change.record is None:
            records.pop(change.path, None)
        else:
            records[change.path] = change.record
