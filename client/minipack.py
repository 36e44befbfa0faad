"""The subset of msgpack that the hook path needs, in the standard library.

A hook runs on every turn of a coding assistant, and ``import msgspec`` alone costs about 30 ms here: more than the
whole hook budget. The hook therefore writes its two frames (Hello, HookEvent) and reads the two replies with this
module. It covers maps with string keys and nil / bool / int / float / str / bin / array values; anything else is
a ``ValueError``. A test holds it to msgspec's encoding of the same Structs.
"""

from __future__ import annotations

import struct

Value = None | bool | int | float | str | bytes | list["Value"] | dict[str, "Value"]


def _str_header(n: int) -> bytes:
    if n < 32:
        return bytes([0xA0 | n])
    if n < 0x100:
        return b"\xd9" + bytes([n])
    if n < 0x10000:
        return b"\xda" + struct.pack(">H", n)
    return b"\xdb" + struct.pack(">I", n)


def _encode_int(v: int) -> bytes:
    if 0 <= v < 0x80:
        return bytes([v])
    if -32 <= v < 0:
        return struct.pack(">b", v)
    if 0 <= v < 2**64:
        return b"\xcf" + struct.pack(">Q", v)
    if -(2**63) <= v < 0:
        return b"\xd3" + struct.pack(">q", v)
    raise ValueError("integer out of msgpack range")


def encode(value: Value) -> bytes:
    if value is None:
        return b"\xc0"
    if value is True:
        return b"\xc3"
    if value is False:
        return b"\xc2"
    if isinstance(value, int):
        return _encode_int(value)
    if isinstance(value, float):
        return b"\xcb" + struct.pack(">d", value)
    if isinstance(value, str):
        raw = value.encode("utf-8", "surrogatepass")
        return _str_header(len(raw)) + raw
    if isinstance(value, bytes):
        n = len(value)
        head = (
            b"\xc4" + bytes([n])
            if n < 0x100
            else b"\xc5" + struct.pack(">H", n)
            if n < 0x10000
            else (b"\xc6" + struct.pack(">I", n))
        )
        return head + value
    if isinstance(value, list):
        n = len(value)
        head = bytes([0x90 | n]) if n < 16 else b"\xdd" + struct.pack(">I", n)
        return head + b"".join(encode(v) for v in value)
    if isinstance(value, dict):
        n = len(value)
        head = bytes([0x80 | n]) if n < 16 else b"\xdf" + struct.pack(">I", n)
        return head + b"".join(encode(k) + encode(v) for k, v in value.items())
    raise ValueError("type not supported by minipack")


_FIXED = {
    0xCC: ">B",
    0xCD: ">H",
    0xCE: ">I",
    0xCF: ">Q",
    0xD0: ">b",
    0xD1: ">h",
    0xD2: ">i",
    0xD3: ">q",
    0xCA: ">f",
    0xCB: ">d",
}
_LEN = {
    0xD9: ">B",
    0xDA: ">H",
    0xDB: ">I",
    0xC4: ">B",
    0xC5: ">H",
    0xC6: ">I",
    0xDC: ">H",
    0xDD: ">I",
    0xDE: ">H",
    0xDF: ">I",
}


def decode(data: bytes) -> Value:
    value, end = _decode(data, 0, 0)
    if end != len(data):
        raise ValueError("trailing bytes after msgpack value")
    return value


def _decode(data: bytes, pos: int, depth: int) -> tuple[Value, int]:
    if depth > 32:
        raise ValueError("msgpack nesting too deep")
    if pos >= len(data):
        raise ValueError("truncated msgpack")
    b = data[pos]
    pos += 1
    if b < 0x80:
        return b, pos
    if b >= 0xE0:
        return b - 0x100, pos
    if 0xA0 <= b <= 0xBF:
        return _take_str(data, pos, b & 0x1F)
    if 0x90 <= b <= 0x9F:
        return _take_array(data, pos, b & 0x0F, depth)
    if 0x80 <= b <= 0x8F:
        return _take_map(data, pos, b & 0x0F, depth)
    if b == 0xC0:
        return None, pos
    if b in (0xC2, 0xC3):
        return b == 0xC3, pos
    if b in _FIXED:
        fmt = _FIXED[b]
        size = struct.calcsize(fmt)
        _need(data, pos, size)
        return struct.unpack_from(fmt, data, pos)[0], pos + size
    if b in _LEN:
        fmt = _LEN[b]
        size = struct.calcsize(fmt)
        _need(data, pos, size)
        (n,) = struct.unpack_from(fmt, data, pos)
        pos += size
        if b in (0xD9, 0xDA, 0xDB):
            return _take_str(data, pos, n)
        if b in (0xC4, 0xC5, 0xC6):
            _need(data, pos, n)
            return bytes(data[pos : pos + n]), pos + n
        if b in (0xDC, 0xDD):
            return _take_array(data, pos, n, depth)
        return _take_map(data, pos, n, depth)
    raise ValueError("msgpack type not supported by minipack")


def _need(data: bytes, pos: int, n: int) -> None:
    if pos + n > len(data):
        raise ValueError("truncated msgpack")


def _take_str(data: bytes, pos: int, n: int) -> tuple[str, int]:
    _need(data, pos, n)
    return data[pos : pos + n].decode("utf-8"), pos + n


def _take_array(data: bytes, pos: int, n: int, depth: int) -> tuple[list[Value], int]:
    out: list[Value] = []
    for _ in range(n):
        item, pos = _decode(data, pos, depth + 1)
        out.append(item)
    return out, pos


def _take_map(data: bytes, pos: int, n: int, depth: int) -> tuple[dict[str, Value], int]:
    out: dict[str, Value] = {}
    for _ in range(n):
        key, pos = _decode(data, pos, depth + 1)
        if not isinstance(key, str):
            raise ValueError("msgpack map key is not a string")
        out[key], pos = _decode(data, pos, depth + 1)
    return out, pos
