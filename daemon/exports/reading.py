"""From a unit of an export to journal rows, batch by batch (blocking: run in a worker thread).

``read_unit`` yields ``Batch``es: the rows of the conversations read since the last batch, the entries skipped in
them, and how many bytes of the unit are done. An array file is streamed (one conversation in memory at a time);
a batch closes after ``BATCH_ROWS`` rows or ``BATCH_BYTES`` read, so the caller commits and reports progress
while a large file is still being read. Any shape that is not the format's raises ``Refused`` naming the file.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from llmojid.client.protocol import JournalRow
from llmojid.daemon.exports import chatgpt, claude_ai, gemini, openhands
from llmojid.daemon.exports.base import CHATGPT, CLAUDE_AI, GEMINI, Malformed, Parsed
from llmojid.daemon.exports.sources import Refused, Unit, array_items, read_document, session_of

BATCH_ROWS: Final = 500
BATCH_BYTES: Final = 8 * 1024 * 1024


@dataclass
class Batch:
    rows: list[JournalRow] = field(default_factory=list)
    bad: int = 0
    conversations: int = 0
    bytes_done: int = 0


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_item(fmt: str, item: object) -> Parsed:
    if fmt == CLAUDE_AI:
        return claude_ai.parse_conversation(item)
    if fmt == CHATGPT:
        return chatgpt.parse_conversation(item)
    return gemini.parse_activity_record(item)


def read_unit(unit: Unit) -> Generator[Batch, None, None]:
    """The rows of one unit, in batches. Raises Refused."""
    if unit.shape == "array":
        yield from _read_array(unit)
    elif unit.shape == "document":
        yield _read_document(unit)
    else:
        yield from _read_events(unit)


def _read_array(unit: Unit) -> Iterator[Batch]:
    (entry,) = unit.entries
    batch = Batch()
    last = 0
    for index, (item, done) in enumerate(array_items(entry)):
        try:
            parsed = _parse_item(unit.fmt, item)
        except Malformed as exc:
            raise Refused(entry.label, f"item {index + 1} is not {exc}") from None
        batch.rows += parsed.rows
        batch.bad += parsed.bad
        batch.conversations += 1
        batch.bytes_done = done
        if len(batch.rows) >= BATCH_ROWS or done - last >= BATCH_BYTES:
            yield batch
            last = done
            batch = Batch()
    batch.bytes_done = entry.size
    yield batch


def _read_document(unit: Unit) -> Batch:
    (entry,) = unit.entries
    document = read_document(entry)
    try:
        if unit.fmt == CLAUDE_AI:
            parsed = claude_ai.parse_conversation(document)
        elif unit.fmt == GEMINI:
            parsed = gemini.parse_studio_prompt(document, session=session_of(entry), fallback_ts=_iso(entry.mtime))
        else:
            raise Malformed(f"a {unit.fmt} file")
    except Malformed as exc:
        raise Refused(entry.label, f"expected {exc}") from None
    return Batch(rows=parsed.rows, bad=parsed.bad, conversations=1, bytes_done=entry.size)


def _read_events(unit: Unit) -> Iterator[Batch]:
    model = openhands.model_of_metadata(read_document(unit.meta)) if unit.meta is not None else ""
    conversation = openhands.Conversation(session=unit.session, model=model)
    batch = Batch(conversations=1)
    for entry in unit.entries:
        try:
            parsed = conversation.feed(read_document(entry))
        except Malformed as exc:
            raise Refused(entry.label, f"expected {exc}") from None
        batch.rows += parsed.rows
        batch.bad += parsed.bad
        batch.bytes_done += entry.size
        if len(batch.rows) >= BATCH_ROWS:
            yield batch
            batch = Batch(bytes_done=batch.bytes_done)
    yield batch


__all__ = ["BATCH_ROWS", "Batch", "read_unit"]
