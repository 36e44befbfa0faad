"""``journal.import_export``: journal the face-led messages of exported chats (``llmojid-ctl import --export``).

The daemon reads the export itself, by path, as it reads harness transcripts for ``journal.import``: it owns the
store and the row builder (``adapters.base.make_row``), and a client never imports daemon code, so rows built
here are the hooks' rows (same face detection, same dedup key of harness, session and message id, same sealing
by ``Journal.insert``). Streaming rows from the client instead would have meant a second row builder in the
client, and a 500 MB export crossing the socket in 1,000-row frames for nothing.

Nothing is written unless the whole export is good: a first pass reads everything (and, in a dry run, counts
which rows the journal lacks); only when it found no malformed file, and the files have not changed since, does
a second pass write, in transactions of ``BATCH_ROWS``. An export is streamed in both passes (one conversation in
memory at a time), so a 500 MB ``conversations.json`` costs its largest conversation, not its size.

Error replies name the file and what was expected (the caller gave the path); log lines name neither.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec
import trio

from llmojid.client import protocol as p
from llmojid.daemon.backfill import Progress, SendProgress, count_new, insert_rows, keep_since, parse_since
from llmojid.daemon.dispatch import CallContext, Dispatcher, DispatchError, args_as
from llmojid.daemon.exports.base import FORMATS
from llmojid.daemon.exports.reading import Batch, read_unit
from llmojid.daemon.exports.sources import Found, Refused, Unit, discover, entries_of
from llmojid.daemon.journal import Journal
from llmojid.daemon.store import Store

if TYPE_CHECKING:
    from llmojid.daemon.app import Daemon

log = logging.getLogger("llmojid.exports")

REQUEST_NAME: Final = "journal.import_export"
#: Most paths one request may name.
MAX_PATHS: Final = 256
Mode = Literal["check", "count", "write"]


class ExportArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: One of FORMATS, or "" to recognise each file's format by itself.
    format: str = ""
    #: Absolute paths of export files, zips or folders.
    paths: list[str] = []
    #: ISO date or date-time (UTC when no offset): only rows at or after it.
    since: str = ""
    dry_run: bool = False


@dataclass
class FormatTally:
    files: int = 0
    conversations: int = 0
    rows_found: int = 0
    rows_new: int = 0
    rows_before_since: int = 0
    bad_entries: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "files": self.files,
            "conversations": self.conversations,
            "rows_found": self.rows_found,
            "rows_new": self.rows_new,
            "rows_present": self.rows_found - self.rows_new,
            "rows_before_since": self.rows_before_since,
            "bad_entries": self.bad_entries,
        }


class ChangedWhileWriting(Refused):
    """A file that passed the check and failed in the writing pass: it was rewritten in between."""


def snapshot(paths: list[str]) -> list[tuple[str, int, float]]:
    """What the files under ``paths`` look like (name, size, mtime): a change between the passes is refused."""
    return [(e.label, e.size, e.mtime) for path in paths for e in entries_of(path)]


class ExportImport:
    """Serves ``journal.import_export``. Build it with ``ExportImport.for_daemon(daemon)``."""

    def __init__(self, store: Store, journal: Journal) -> None:
        self.store = store
        self.journal = journal

    @classmethod
    def for_daemon(cls, daemon: Daemon) -> ExportImport:
        return cls(daemon.store, daemon.journal)

    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.add_named(REQUEST_NAME, self._on_import)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()

    def close(self) -> None:
        pass

    async def _on_import(self, msg: p.Request, ctx: CallContext) -> p.Result:
        args: ExportArgs = args_as(ExportArgs, msg)
        if args.format and args.format not in FORMATS:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, f"format must be one of: {', '.join(FORMATS)}")
        if not args.paths or len(args.paths) > MAX_PATHS:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, f"paths must name 1 to {MAX_PATHS} exports")
        if not all(os.path.isabs(path) and "\x00" not in path for path in args.paths):
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "paths must be absolute")
        try:
            since = parse_since(args.since)
        except ValueError:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "since must be an ISO date or date-time") from None
        try:
            value = await self.run_import(args.paths, args.format, since, args.dry_run, ctx.send_progress)
        except Refused as exc:
            if isinstance(exc, ChangedWhileWriting):
                raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, f"stopped: {exc}") from None
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, f"refused, nothing was written: {exc}") from None
        return p.Result(value=value)

    async def run_import(
        self, paths: list[str], fmt: str, since: datetime | None, dry_run: bool, send_progress: SendProgress
    ) -> dict[str, Any]:
        """Check the whole export, then (unless ``dry_run``) write it. Raises Refused before writing anything."""
        found = await trio.to_thread.run_sync(discover, paths, fmt)
        before = await trio.to_thread.run_sync(snapshot, paths)
        tallies = await self._pass(found, since, "count" if dry_run else "check", send_progress)
        if not dry_run:
            if await trio.to_thread.run_sync(snapshot, paths) != before:
                raise Refused(paths[0] if len(paths) == 1 else "the export", "changed while it was being read")
            try:
                tallies = await self._pass(found, since, "write", send_progress)
            except Refused as exc:  # only a file rewritten in place between the passes gets here
                raise ChangedWhileWriting(
                    exc.label, f"{exc.expected} (it changed during the import: earlier rows were written)"
                ) from None
            log.info("imported an export: %d row(s) new", sum(t.rows_new for t in tallies.values()))
        return {
            "dry_run": dry_run,
            "since": since.isoformat() if since else "",
            "formats": {name: t.as_dict() for name, t in tallies.items()},
            "skipped_files": found.skipped,
            "empty_files": found.empty,
        }

    async def _pass(
        self, found: Found, since: datetime | None, mode: Mode, send_progress: SendProgress
    ) -> dict[str, FormatTally]:
        tallies: dict[str, FormatTally] = {}
        progress = Progress(send_progress, files_total=len(found.units), bytes_total=sum(u.size for u in found.units))
        await progress.send(force=True, phase=mode)
        seen: set[bytes] = set()
        for unit in found.units:
            tally = tallies.setdefault(unit.fmt, FormatTally())
            tally.files += 1
            async for batch in _batches(unit):
                rows, early = keep_since(batch.rows, since, max(e.mtime for e in unit.entries))
                tally.rows_before_since += early
                tally.rows_found += len(rows)
                tally.conversations += batch.conversations
                tally.bad_entries += batch.bad
                new = 0
                if mode == "write":
                    new = await insert_rows(self.store, self.journal, rows)
                elif mode == "count":
                    new = await count_new(self.store, rows, seen)
                tally.rows_new += new
                progress.rows_found += len(rows)
                progress.rows_new += new
                await progress.send(bytes_in_file=batch.bytes_done, phase=mode)
            progress.finish_file(unit.size)
            await progress.send(phase=mode)
        await progress.send(force=True, phase="done" if mode != "check" else mode)
        return tallies


async def _batches(unit: Unit) -> AsyncIterator[Batch]:
    """``read_unit`` driven from worker threads, one batch per hop."""
    iterator: Generator[Batch, None, None] = read_unit(unit)
    try:
        while True:
            batch: Batch | None = await trio.to_thread.run_sync(next, iterator, None)
            if batch is None:
                return
            yield batch
    finally:
        iterator.close()


__all__ = ["REQUEST_NAME", "ExportArgs", "ExportImport", "snapshot"]
