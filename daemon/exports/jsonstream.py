"""A streaming reader of the items of one top-level JSON array, so a 500 MB export is never held whole.

Chat exports are one big array of conversations (``conversations.json``, Takeout's ``MyActivity.json``). The
reader is a pure state machine in the manner of h11: ``feed(bytes)`` returns the raw bytes of every item that is
complete so far, ``end()`` says whether the array was closed. It only finds item boundaries (strings, escapes,
bracket depth); each item is then decoded whole by msgspec, which judges its syntax. Memory is one read chunk plus
the item being read, and an item larger than ``max_item_bytes`` is refused rather than buffered.

Scanning jumps between structural bytes with compiled patterns (a conversation is mostly long strings), so the
Python loop runs per bracket and string, not per byte.
"""

from __future__ import annotations

import re
from typing import Final

#: Bytes that matter outside a string: brackets and the opening quote.
_STRUCTURE: Final = re.compile(rb'[\[\]{}"]')
#: Bytes that matter inside a string: the closing quote and the escape.
_IN_STRING: Final = re.compile(rb'["\\]')
#: Where a scalar item (a number, true, false, null) ends.
_SCALAR_END: Final = re.compile(rb"[,\]\s]")
_WHITESPACE: Final = b" \t\r\n"
_BOM: Final = b"\xef\xbb\xbf"
DEFAULT_MAX_ITEM_BYTES: Final = 64 * 1024 * 1024


class JsonStreamError(Exception):
    """The bytes are not one well-formed JSON array. The message says what was expected, never the content."""


class ArrayItems:
    """Feed the bytes of a file whose top level is a JSON array; take the raw bytes of each item."""

    def __init__(self, max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES) -> None:
        self.max_item_bytes = max_item_bytes
        self._buf = bytearray()
        self._pos = 0  # next byte to look at in _buf
        self._state = "start"  # start | before-item | after-item | item | done
        self._item_start = 0
        self._depth = 0
        self._in_string = False
        self._scalar = False
        self._first = True
        self.items_seen = 0

    @property
    def done(self) -> bool:
        return self._state == "done"

    def feed(self, data: bytes) -> list[bytes]:
        """The items completed by ``data``. Raises JsonStreamError on anything that is not an array of items."""
        self._buf += data
        out: list[bytes] = []
        while self._step(out):
            pass
        # Drop what is consumed: the buffer holds at most the item in progress and the unread tail.
        keep = self._item_start if self._state == "item" else self._pos
        if keep:
            del self._buf[:keep]
            self._pos -= keep
            self._item_start = 0 if self._state == "item" else self._item_start - keep
        if self._state == "item" and len(self._buf) > self.max_item_bytes:
            raise JsonStreamError(f"an item larger than {_size(self.max_item_bytes)}")
        return out

    def end(self) -> None:
        """At the end of the file: raises JsonStreamError unless the array was closed (a truncated file)."""
        if self._state == "item" and self._scalar and self._depth == 0 and not self._in_string:
            raise JsonStreamError("the file ends inside the array (truncated?): expected ']' at the end")
        if self._state != "done":
            if self._state == "start":
                raise JsonStreamError("an empty file: expected a JSON array")
            raise JsonStreamError("the file ends before the array is closed (truncated?): expected ']' at the end")

    # --- the machine ----------------------------------------------------------------------------------------------
    def _skip_space(self) -> bool:
        """Move past whitespace; False when the buffer ran out."""
        buf, pos = self._buf, self._pos
        while pos < len(buf) and buf[pos] in _WHITESPACE:
            pos += 1
        self._pos = pos
        return pos < len(buf)

    def _step(self, out: list[bytes]) -> bool:
        """Advance as far as one transition; False when more bytes are needed."""
        state = self._state
        if state == "start":
            if self._pos == 0 and len(self._buf) < len(_BOM) and _BOM.startswith(bytes(self._buf)):
                return False
            if self._buf.startswith(_BOM) and self._pos == 0:
                self._pos = len(_BOM)
            if not self._skip_space():
                return False
            if self._buf[self._pos] != ord("["):
                raise JsonStreamError("expected a JSON array at the top level")
            self._pos += 1
            self._state = "before-item"
            return True
        if state == "done":
            if self._skip_space():
                raise JsonStreamError("unexpected data after the end of the array")
            return False
        if state == "after-item":
            if not self._skip_space():
                return False
            byte = self._buf[self._pos]
            self._pos += 1
            if byte == ord("]"):
                self._state = "done"
            elif byte == ord(","):
                self._state = "before-item"
                self._first = False
            else:
                raise JsonStreamError(f"expected ',' or ']' after item {self.items_seen}")
            return True
        if state == "before-item":
            if not self._skip_space():
                return False
            byte = self._buf[self._pos]
            if byte == ord("]"):
                if not self._first:
                    raise JsonStreamError(f"expected an item after ',' (item {self.items_seen + 1})")
                self._pos += 1
                self._state = "done"
                return True
            if byte == ord(","):
                raise JsonStreamError(f"expected an item, found ',' (item {self.items_seen + 1})")
            self._state = "item"
            self._item_start = self._pos
            self._depth = 0
            self._in_string = False
            self._scalar = byte not in b'[{"'
            return True
        return self._scan_item(out)

    def _scan_item(self, out: list[bytes]) -> bool:
        buf = self._buf
        pos = self._pos
        if self._scalar:
            found = _SCALAR_END.search(buf, pos)
            if found is None:
                self._pos = len(buf)
                return False
            return self._finish_item(out, found.start())
        while True:
            if self._in_string:
                found = _IN_STRING.search(buf, pos)
                if found is None:
                    self._pos = len(buf)
                    return False
                if buf[found.start()] == ord("\\"):
                    if found.end() >= len(buf):  # the escaped byte has not arrived: look again from the backslash
                        self._pos = found.start()
                        return False
                    pos = found.end() + 1
                    continue
                self._in_string = False
                pos = found.end()
                if self._depth == 0:  # a string item
                    return self._finish_item(out, pos)
                continue
            found = _STRUCTURE.search(buf, pos)
            if found is None:
                self._pos = len(buf)
                return False
            byte = buf[found.start()]
            pos = found.end()
            if byte == ord('"'):
                self._in_string = True
            elif byte in b"[{":
                self._depth += 1
            else:
                self._depth -= 1  # brackets are counted, not matched: msgspec judges the item's syntax
                if self._depth == 0:
                    return self._finish_item(out, pos)

    def _finish_item(self, out: list[bytes], end: int) -> bool:
        if end - self._item_start > self.max_item_bytes:
            raise JsonStreamError(f"an item larger than {_size(self.max_item_bytes)}")
        out.append(bytes(self._buf[self._item_start : end]))
        self.items_seen += 1
        self._pos = end
        self._state = "after-item"
        return True


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n} bytes"


__all__ = ["DEFAULT_MAX_ITEM_BYTES", "ArrayItems", "JsonStreamError"]
