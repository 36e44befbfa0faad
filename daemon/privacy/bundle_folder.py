"""The bundle folder on disk: read it without following links, write it whole or not at all.

Default place: ``paths.data_dir() / "bundle"`` (``~/.local/share/llmojid/bundle`` on Linux).

Writing: the new files go into a fresh sibling folder (0700, files 0600), are synced, and the folder is swapped
in with two renames; the previous bundle is removed afterwards. A crash leaves either the old bundle or the new
one (plus a leftover sibling named ``.bundle-*``, removed at the next build). The builder refuses to replace a
folder that holds anything a bundle never holds (a foreign file, a subfolder, a symlink): that is the user's,
not ours to delete.

Error handling: every OSError becomes a BundleFolderError naming the path and what failed, never file content.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from llmojid.client import paths
from llmojid.daemon.privacy.bundle import allowed_name

FOLDER_NAME: Final = "bundle"
#: A bundle file larger than this is not a bundle file (a real one is a few hundred kilobytes at most).
MAX_FILE_BYTES: Final = 16 * 1024 * 1024
_SIBLING_PREFIX: Final = ".bundle-"


class BundleFolderError(Exception):
    """The folder cannot be read or written as a bundle; the message names the path and the reason."""


def default_folder() -> Path:
    return paths.data_dir() / FOLDER_NAME


@dataclass
class FolderContents:
    """What a bundle folder holds: regular files by name, and every entry that has no place in a bundle."""

    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    exists: bool = True


def read_folder(folder: Path) -> FolderContents:
    """Read a bundle folder without following any symlink; entries that break the layout go to ``problems``."""
    out = FolderContents()
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        out.exists = False
        return out
    except OSError as exc:
        raise BundleFolderError(f"cannot inspect {folder}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        out.problems.append(f"{folder} is a symlink, not a folder")
        return out
    if not stat.S_ISDIR(st.st_mode):
        out.problems.append(f"{folder} is not a folder")
        return out
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise BundleFolderError(f"cannot list {folder}: {exc.strerror}") from None
    for name in names:
        path = folder / name
        est = os.lstat(path)
        if stat.S_ISLNK(est.st_mode):
            out.problems.append(f"symlink {name!r} in the bundle folder {folder}")
        elif stat.S_ISDIR(est.st_mode):
            out.problems.append(f"subfolder {name!r} in the bundle folder {folder}")
        elif not stat.S_ISREG(est.st_mode):
            out.problems.append(f"special file {name!r} in the bundle folder {folder}")
        elif not allowed_name(name):
            out.problems.append(f"foreign file {name!r} in the bundle folder {folder}")
        elif est.st_size > MAX_FILE_BYTES:
            out.problems.append(f"{name!r} in the bundle folder is larger than any bundle file")
        else:
            out.files[name] = _read_nofollow(path)
    return out


def _read_nofollow(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise BundleFolderError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(MAX_FILE_BYTES + 1)


def write_folder(folder: Path, files: Mapping[str, bytes]) -> None:
    """Replace ``folder`` with exactly ``files`` (see the module docstring). Refuses a folder holding others."""
    current = read_folder(folder)
    if current.problems:
        raise BundleFolderError(
            "the bundle folder holds something a bundle never holds; move it away and build again: "
            + "; ".join(current.problems)
        )
    parent = folder.parent
    try:
        os.makedirs(parent, mode=0o700, exist_ok=True)
        for leftover in parent.glob(_SIBLING_PREFIX + "*"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover)
        fresh = parent / f"{_SIBLING_PREFIX}new-{secrets.token_hex(4)}"
        os.mkdir(fresh, 0o700)
        for name in sorted(files):
            if not allowed_name(name):
                raise BundleFolderError(f"refusing to write the foreign file name {name!r}")
            fd = os.open(fresh / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(files[name])
                handle.flush()
                os.fsync(handle.fileno())
        _fsync_dir(fresh)
        old = parent / f"{_SIBLING_PREFIX}old-{secrets.token_hex(4)}"
        if current.exists:
            os.rename(folder, old)
        os.rename(fresh, folder)
        _fsync_dir(parent)
        if current.exists:
            shutil.rmtree(old)
    except OSError as exc:
        raise BundleFolderError(f"cannot write the bundle folder {folder}: {exc.strerror}") from None


def remove_folder(folder: Path) -> bool:
    """Delete a bundle folder (``forget --all``); a symlink is unlinked, never followed. True if one existed."""
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return False
    try:
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(folder)
        else:
            os.unlink(folder)
    except OSError as exc:
        raise BundleFolderError(f"cannot remove the bundle folder {folder}: {exc.strerror}") from None
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
