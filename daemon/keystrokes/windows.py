"""Assembling prompt windows from key-event batches (pure: no I/O, no clock).

A sender (``wrap``, an editor plugin, a key logger) sends batches of events as they happen; a window is
everything one source typed up to and including an ENTER (one submitted prompt). Events after the last
ENTER stay open until the next batch of the same source. The open part lives only in memory: a daemon
restart loses an unfinished prompt, which is better than writing half-typed timing to disk.

Sources are told apart by the full ``source`` string of the message (``wrap/<random session token>``),
so two terminals typing at once never interleave; only the part before ``/`` (the sender kind) is ever
stored. Bounds, so a runaway sender cannot grow memory: an open window keeps its newest
:data:`MAX_OPEN_EVENTS` events, and at most :data:`MAX_OPEN_SOURCES` sources are tracked (the least
recently active one is forgotten first).
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from llmojid.daemon.keystrokes.features import MAX_WINDOW_EVENTS, N_CLASSES, KeyClass, KeyEvent

#: Most events kept for one open (not yet submitted) window; older ones are dropped first.
MAX_OPEN_EVENTS = MAX_WINDOW_EVENTS
#: Most sources with an open window at once (terminals, editors); the stalest is forgotten beyond this.
MAX_OPEN_SOURCES = 64
#: Longest stored sender kind; anything that is not a short lowercase name is stored as "other".
MAX_KIND_LENGTH = 32
_KIND = re.compile(r"[a-z0-9][a-z0-9._-]*")


class InvalidEvents(ValueError):
    """A batch holds an event that cannot be timing data. The message says what, never a value."""


def source_kind(source: str) -> str:
    """The storable part of a source: its kind before ``/`` if it is a short lowercase name, else "other"."""
    kind = source.split("/", 1)[0]
    return kind if len(kind) <= MAX_KIND_LENGTH and _KIND.fullmatch(kind) else "other"


def checked_events(raw: Iterable[tuple[float, float | None, int]]) -> list[KeyEvent]:
    """Validate wire events into feature events: finite times, a known class. Raises InvalidEvents."""
    out: list[KeyEvent] = []
    for press, release, cls in raw:
        if not math.isfinite(press):
            raise InvalidEvents("a key event has a non-finite press time")
        if release is not None and not math.isfinite(release):
            raise InvalidEvents("a key event has a non-finite release time")
        if not 0 <= cls < N_CLASSES:
            raise InvalidEvents("a key event has an unknown key class")
        out.append(KeyEvent(float(press), None if release is None else float(release), int(cls)))
    return out


@dataclass
class WindowAssembler:
    """Per-source open windows; ``feed`` returns the windows that a batch closed, oldest first."""

    max_sources: int = MAX_OPEN_SOURCES
    max_events: int = MAX_OPEN_EVENTS

    def __post_init__(self) -> None:
        self._open: OrderedDict[str, list[KeyEvent]] = OrderedDict()

    def feed(self, source: str, events: Iterable[KeyEvent]) -> list[list[KeyEvent]]:
        current = self._open.pop(source, [])
        closed: list[list[KeyEvent]] = []
        for event in events:
            current.append(event)
            if event.key_class == KeyClass.ENTER:
                closed.append(current)
                current = []
            elif len(current) > self.max_events:
                del current[: len(current) - self.max_events]
        if current:
            self._open[source] = current  # most recently active last
            while len(self._open) > self.max_sources:
                self._open.popitem(last=False)
        return closed

    def open_count(self) -> int:
        """How many sources have an unfinished window."""
        return len(self._open)

    def clear(self) -> None:
        self._open.clear()
