"""Where the exports are: the files under the paths given, unpacked or in a zip, grouped into units to parse.

A path is a file (an export file, or a zip holding an export) or a folder (walked, symlinks not followed; zips in
it are opened too). Every file becomes an ``Entry`` that can be opened as a binary stream, whether it lies on disk
or in a zip (read streamed either way). Entries are then recognised, by name and by a look at their first item or
first bytes, as one of:

* ``array``: a file whose top level is an array of conversations or records, streamed item by item
  (``conversations.json`` and ``conversations-NNN.json`` of claude.ai or ChatGPT, Takeout's ``MyActivity.json``);
* ``document``: one JSON object per file (a claude.ai conversation file, an AI Studio prompt file);
* ``events``: an OpenHands conversation, its ``events/`` files in order plus its metadata file.

Files an export carries beside the conversations (``users.json``, ``chat.html``, images, other Takeout products)
are skipped. A path in which nothing is recognised, or a file that claims to be an export and is not, is refused
with the file and what was expected (``Refused``): the importer then writes nothing.

Blocking (directory walks, reads): called from worker threads.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Final

import msgspec

from llmojid.daemon.exports import chatgpt, claude_ai, gemini, openhands
from llmojid.daemon.exports.base import CHATGPT, CLAUDE_AI, GEMINI, OPENHANDS, Malformed
from llmojid.daemon.exports.jsonstream import ArrayItems, JsonStreamError

#: A file read whole (one conversation, one prompt file, one event) larger than this is refused.
MAX_DOCUMENT_BYTES: Final = 64 * 1024 * 1024
READ_CHUNK: Final = 1024 * 1024
#: How much of a file without a telling name is looked at to recognise it.
SNIFF_BYTES: Final = 64 * 1024
ARRAY_NAMES: Final = re.compile(r"^(conversations(-\d+)?|MyActivity)\.json$")
#: Files exports carry beside the conversations, never conversations themselves.
COMPANIONS: Final = frozenset(
    {
        "export_summary.json",
        "users.json",
        "projects.json",
        "memories.json",
        "user.json",
        "message_feedback.json",
        "shared_conversations.json",
        "model_comparisons.json",
        "group_chats.json",
        "sora.json",
    }
)
EXPECTED_ANY: Final = (
    "expected an export: a claude.ai or ChatGPT conversations.json, claude.ai conversation files, AI Studio prompt"
    " files, a Takeout MyActivity.json of Gemini Apps, or OpenHands events folders (a folder or a zip of them)"
)


class Refused(Exception):
    """An input that is not an export (or not the one named). ``label`` names the file; the message says what was
    expected. Never the content."""

    def __init__(self, label: str, expected: str) -> None:
        super().__init__(f"{label}: {expected}")
        self.label = label
        self.expected = expected


@dataclass(frozen=True)
class Entry:
    """One file of an export, on disk or in a zip."""

    label: str  # what messages name: the path, or "member (in archive.zip)"
    name: str  # the path inside its export (a zip member name, or relative to the folder given)
    size: int
    mtime: float
    disk_path: str
    member: str = ""

    @property
    def base(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    def open(self) -> IO[bytes]:
        """The file's bytes, streamed. Raises OSError (or zipfile.BadZipFile)."""
        if not self.member:
            return open_regular(self.disk_path)
        archive = zipfile.ZipFile(open_regular(self.disk_path))  # closed with the member (_MemberStream)
        try:
            handle = archive.open(self.member)
        except BaseException:
            archive.close()
            raise
        return io.BufferedReader(_MemberStream(handle, archive), READ_CHUNK)


class _MemberStream(io.RawIOBase):
    """A zip member that closes its archive with it."""

    def __init__(self, handle: IO[bytes], archive: zipfile.ZipFile) -> None:
        self._handle = handle
        self._archive = archive

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._handle.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._handle.close()
            self._archive.close()
        super().close()


@dataclass(frozen=True)
class Unit:
    """What one parse covers: an array file, a single-object file, or an OpenHands conversation's events."""

    fmt: str
    shape: str  # "array" | "document" | "events"
    entries: tuple[Entry, ...]
    meta: Entry | None = None
    #: An OpenHands conversation's id: the name of the folder that holds its ``events/``.
    session: str = ""

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)


@dataclass
class Found:
    units: list[Unit] = field(default_factory=list)
    #: Files that are no conversations (companions, other products, unrecognised files in a folder).
    skipped: int = 0
    #: Export files holding an empty array: a valid export with nothing in it.
    empty: int = 0


def open_regular(path: str) -> IO[bytes]:
    """Open a regular file for reading; a FIFO, device or directory is refused before a byte is read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_document(entry: Entry) -> object:
    """A whole single-object file, decoded. Raises Refused (too large, not JSON, truncated)."""
    if entry.size > MAX_DOCUMENT_BYTES:
        cap = MAX_DOCUMENT_BYTES // (1024 * 1024)
        raise Refused(entry.label, f"a file larger than {cap} MiB: expected one JSON object")
    try:
        with entry.open() as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise Refused(entry.label, f"cannot be read ({_reason(exc)})") from None
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError, ValueError):
        raise Refused(entry.label, "not valid JSON (truncated?): expected one JSON object") from None


def array_items(entry: Entry) -> Iterator[tuple[object, int]]:
    """The decoded items of an array file with the bytes read so far, streamed. Raises Refused."""
    reader = ArrayItems(MAX_DOCUMENT_BYTES)
    done = 0
    try:
        with entry.open() as handle:
            while True:
                chunk = handle.read(READ_CHUNK)
                done += len(chunk)
                if not chunk:
                    reader.end()
                    return
                for raw in reader.feed(chunk):
                    try:
                        item = msgspec.json.decode(raw)
                    except (msgspec.DecodeError, RecursionError, ValueError):
                        raise Refused(entry.label, f"item {reader.items_seen} is not valid JSON") from None
                    yield item, done
    except JsonStreamError as exc:
        raise Refused(entry.label, str(exc)) from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise Refused(entry.label, f"cannot be read ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return "a damaged zip" if isinstance(exc, zipfile.BadZipFile | EOFError) else type(exc).__name__


# --- Listing files ----------------------------------------------------------------------------------------------------
def entries_of(path: str) -> list[Entry]:
    """Every file under ``path`` (a folder, a zip, or one file), zips opened. Raises Refused."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise Refused(path, f"cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        out: list[Entry] = []
        for directory, dirs, names in os.walk(path, followlinks=False):
            dirs.sort()
            for name in sorted(names):
                full = os.path.join(directory, name)
                try:
                    info = os.lstat(full)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    rel = os.path.relpath(full, path).replace(os.sep, "/")
                    out += _file_entries(full, rel, info)
        return out
    if not stat.S_ISREG(st.st_mode):
        raise Refused(path, "not a regular file or folder: " + EXPECTED_ANY)
    return _file_entries(path, os.path.basename(path), st)


def _file_entries(path: str, rel: str, st: os.stat_result) -> list[Entry]:
    if not path.lower().endswith(".zip"):
        return [Entry(label=path, name=rel, size=st.st_size, mtime=st.st_mtime, disk_path=path)]
    try:
        with open_regular(path) as raw, zipfile.ZipFile(raw) as archive:
            members = [i for i in archive.infolist() if not i.is_dir()]
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise Refused(path, f"cannot be read ({_reason(exc)}): expected a zip of an export") from None
    return [
        Entry(
            label=f"{m.filename} (in {path})",
            name=m.filename,
            size=m.file_size,
            mtime=_zip_time(m, st.st_mtime),
            disk_path=path,
            member=m.filename,
        )
        for m in sorted(members, key=lambda m: m.filename)
    ]


def _zip_time(member: zipfile.ZipInfo, fallback: float) -> float:
    """A member's own modification time (zips keep local time), else the archive's."""
    try:
        return datetime(*member.date_time).timestamp()
    except (ValueError, OverflowError):
        return fallback


# --- Recognising ------------------------------------------------------------------------------------------------------
def _first_item(entry: Entry) -> object:
    """The first item of an array file (None for an empty array). Raises Refused."""
    for item, _ in array_items(entry):
        return item
    return None


def _array_format(entry: Entry, first: object) -> str:
    if claude_ai.is_conversation(first):
        return CLAUDE_AI
    if chatgpt.is_conversation(first):
        return CHATGPT
    if isinstance(first, dict) and gemini.is_activity_record(first):
        return GEMINI
    if entry.base == "MyActivity.json":
        raise Refused(entry.label, gemini.EXPECTED_TAKEOUT)
    raise Refused(entry.label, f"{claude_ai.EXPECTED} or {chatgpt.EXPECTED} as the array's items")


def _sniff(entry: Entry) -> str:
    """The format of a single-object file by its first bytes, or "" when it is no conversation file."""
    if entry.size > MAX_DOCUMENT_BYTES or entry.size < 2:
        return ""
    if "." in entry.base and not entry.base.lower().endswith(".json"):
        return ""  # photos, HTML, archives of a Takeout: never opened (AI Studio files have no extension)
    try:
        with entry.open() as handle:
            head = handle.read(SNIFF_BYTES)
    except (OSError, zipfile.BadZipFile, EOFError):
        return ""
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return ""
    if b'"chat_messages"' in head:
        return CLAUDE_AI
    if b'"chunkedPrompt"' in head or b'"runSettings"' in head:
        return GEMINI
    return ""


def recognise(entries: list[Entry], wanted: str, label: str) -> Found:
    """Group ``entries`` (all of one path) into units. Raises Refused."""
    found = Found()
    events: dict[str, list[tuple[int, Entry]]] = {}
    metas: dict[str, Entry] = {}
    by_name = {e.name: e for e in entries}
    for entry in entries:
        folder, _, base = entry.name.rpartition("/")
        parent, _, leaf = folder.rpartition("/")
        index = openhands.event_index(base)
        if leaf == "events" and index is not None:
            events.setdefault(parent, []).append((index, entry))
            continue
        events_dir = f"{folder}/events/" if folder else "events/"
        if base in openhands.METADATA_FILES and any(n.startswith(events_dir) for n in by_name):
            metas[folder] = entry
            continue
        if base in COMPANIONS or base.startswith("."):
            found.skipped += 1
            continue
        if ARRAY_NAMES.match(base):
            first = _first_item(entry)
            if first is None:
                found.empty += 1  # an empty export: nothing to import, nothing to tell its format by
                continue
            if base == "MyActivity.json" and isinstance(first, dict) and not gemini.is_gemini_record(first):
                if wanted == GEMINI and len(entries) == 1:
                    raise Refused(entry.label, f"{gemini.EXPECTED_TAKEOUT} of Gemini Apps")
                found.skipped += 1  # another product's activity
                continue
            fmt = _array_format(entry, first)
            if wanted and fmt != wanted:
                if len(entries) == 1 or base.startswith("conversations"):
                    raise Refused(entry.label, f"{_expected_of(wanted)}; this is a {fmt} export")
                found.skipped += 1
                continue
            found.units.append(Unit(fmt, "array", (entry,)))
            continue
        fmt = _sniff(entry)
        if fmt and (not wanted or fmt == wanted):
            found.units.append(Unit(fmt, "document", (entry,)))
        elif len(entries) == 1:
            raise Refused(entry.label, _expected_of(wanted) if wanted else EXPECTED_ANY)
        else:
            found.skipped += 1
    for parent, items in sorted(events.items()):
        if wanted and wanted != OPENHANDS:
            found.skipped += len(items)
            continue
        items.sort(key=lambda pair: pair[0])
        meta = metas.get(parent)
        session = parent.rsplit("/", 1)[-1] or _stem(label)
        found.units.append(Unit(OPENHANDS, "events", tuple(e for _, e in items), meta, session))
    if not found.units and not found.empty:
        raise Refused(label, _expected_of(wanted) if wanted else EXPECTED_ANY)
    return found


def _stem(path: str) -> str:
    name = os.path.basename(os.path.normpath(path))
    return name[: -len(".zip")] if name.lower().endswith(".zip") else name


def _expected_of(fmt: str) -> str:
    return {
        CLAUDE_AI: "expected a claude.ai export: conversations.json or conversation files (objects with chat_messages)",
        CHATGPT: "expected a ChatGPT export: conversations.json (conversations with a mapping of messages)",
        GEMINI: "expected AI Studio prompt files (chunkedPrompt) or a Takeout MyActivity.json of Gemini Apps",
        OPENHANDS: "expected OpenHands events folders (events/<n>.json or events/event-<n>-<id>.json)",
    }.get(fmt, EXPECTED_ANY)


def discover(paths: list[str], wanted: str) -> Found:
    """Every unit under ``paths``, in a stable order. Raises Refused for the first path that holds no export."""
    found = Found()
    for path in paths:
        part = recognise(entries_of(path), wanted, path)
        found.units += part.units
        found.skipped += part.skipped
        found.empty += part.empty
    return found


def session_of(entry: Entry) -> str:
    """A single-object file's session: its file name (AI Studio names each file after its chat)."""
    return entry.base


__all__ = [
    "COMPANIONS",
    "EXPECTED_ANY",
    "MAX_DOCUMENT_BYTES",
    "Entry",
    "Found",
    "Malformed",
    "Refused",
    "Unit",
    "array_items",
    "discover",
    "entries_of",
    "read_document",
    "recognise",
]
