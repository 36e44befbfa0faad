"""The export importer's pure parts: the streaming array reader, the branch and text rules of each format, and
the memory an export of any size costs (peak RSS of a real read of a generated 48 MB export, in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmojid.daemon.exports import chatgpt, claude_ai, gemini, openhands
from llmojid.daemon.exports.base import Malformed, iso_utc
from llmojid.daemon.exports.component import snapshot
from llmojid.daemon.exports.jsonstream import ArrayItems, JsonStreamError
from tests.export_samples import large_conversation, write_large_chatgpt_export

JSON_TEXT = st.text(alphabet=st.sampled_from('ab "\\{}[],:\n\t/é◕‿😀\x00\x1f'), max_size=30)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | JSON_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(JSON_TEXT, inner, max_size=4),
    max_leaves=20,
)


def read_all(data: bytes, cuts: list[int], max_item: int = 1 << 20) -> list[Any]:
    reader = ArrayItems(max_item)
    items: list[bytes] = []
    start = 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        items += reader.feed(data[start:cut])
        start = max(start, cut)
    reader.end()
    return [json.loads(item) for item in items]


@settings(max_examples=300, deadline=None)
@given(st.lists(JSON_VALUES, max_size=6), st.lists(st.integers(0, 10**6), max_size=12), st.sampled_from([None, 1, 2]))
def test_items_come_out_whole_however_the_bytes_are_cut(values: list[Any], cuts: list[int], indent: Any) -> None:
    data = json.dumps(values, indent=indent, ensure_ascii=bool(cuts and cuts[0] % 2)).encode()
    assert read_all(data, cuts) == values
    assert read_all(b"\xef\xbb\xbf \n" + data + b"\n", cuts) == values, "a BOM and surrounding whitespace are fine"


@settings(max_examples=150, deadline=None)
@given(st.lists(JSON_VALUES, min_size=1, max_size=5), st.integers(0, 10**6))
def test_every_truncation_is_refused(values: list[Any], at: int) -> None:
    data = json.dumps(values).encode()
    cut = at % (len(data) - 1) + 1  # a proper, non-empty prefix
    with pytest.raises(JsonStreamError, match="truncated"):
        read_all(data[:cut], [])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 300), max_size=5))
def test_arbitrary_bytes_raise_nothing_but_a_stream_error(data: bytes, cuts: list[int]) -> None:
    reader = ArrayItems(64)
    start = 0
    try:
        for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
            for item in reader.feed(data[start:cut]):
                assert len(item) <= 64
            start = max(start, cut)
        reader.end()
    except JsonStreamError:
        pass


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b'{"a": 1}', "expected a JSON array"),
        (b"", "empty file"),
        (b"[1, 2] x", "after the end of the array"),
        (b"[1 2]", "expected ',' or ']'"),
        (b"[1, ]", "expected an item after ','"),
        (b"[, 1]", "expected an item"),
        (b'[{"a": 1}}]', "expected ',' or ']'"),
        (b'["' + b"x" * 3000 + b'"]', "larger than"),
    ],
)
def test_what_is_not_an_array_of_items_is_refused(data: bytes, said: str) -> None:
    with pytest.raises(JsonStreamError, match=said):
        read_all(data, [7, 700], max_item=2048)


# --- formats ------------------------------------------------------------------------------------------------------
def test_chatgpt_follows_current_node_and_survives_a_cycle() -> None:
    conv = large_conversation(0, messages=4, text_bytes=10)
    rows = chatgpt.parse_conversation(conv).rows
    assert [r.message_id for r in rows] == ["c0-m0-assistant", "c0-m2-assistant"]
    assert all(r.model == "gpt-4o" and r.user_text.startswith("lorem") for r in rows)
    mapping = conv["mapping"]
    assert isinstance(mapping, dict)
    mapping["root"]["parent"] = conv["current_node"]  # a parent cycle: the walk ends, never loops
    assert len(chatgpt.parse_conversation(conv).rows) == 2
    assert chatgpt.parse_conversation({**conv, "current_node": "gone"}).rows == []
    for bad in ([], {"mapping": {}}, {"id": "x", "mapping": []}):
        with pytest.raises(Malformed, match="mapping"):
            chatgpt.parse_conversation(bad)


def _claude(uuid: str, sender: str, text: str, created: str, parent: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"uuid": uuid, "sender": sender, "text": text, "content": [], "created_at": created}
    if parent is not None:
        msg["parent_message_uuid"] = parent
    return msg


def test_claude_takes_the_newest_branch_unless_the_leaf_is_named() -> None:
    messages = [
        _claude("h1", "human", "q", "2025-01-01T00:00:00Z", ""),
        _claude("a1", "assistant", "(◕‿◕) old answer", "2025-01-01T00:00:01Z", "h1"),
        _claude("a2", "assistant", "(._.) new answer", "2025-01-01T00:00:09Z", "h1"),
    ]
    conv = {"uuid": "c", "chat_messages": messages}
    assert [r.message_id for r in claude_ai.parse_conversation(conv).rows] == ["a2"]
    named = {**conv, "current_leaf_message_uuid": "a1"}
    assert [r.message_id for r in claude_ai.parse_conversation(named).rows] == ["a1"]
    unlinked = [{k: v for k, v in m.items() if k != "parent_message_uuid"} for m in messages]
    flat = {"uuid": "c", "chat_messages": unlinked}
    assert [r.message_id for r in claude_ai.parse_conversation(flat).rows] == ["a1", "a2"], "no links: every message"
    counted = claude_ai.parse_conversation({"uuid": "c", "chat_messages": ["junk", *messages]})
    assert counted.bad == 1 and len(counted.rows) == 1


def test_gemini_answers_are_read_from_html_and_titles_lose_their_verb() -> None:
    assert gemini.html_text("<p>(&gt;_&lt;) one</p><ul><li>two</li></ul>") == "(>_<) one\ntwo"
    assert gemini.prompt_of("Prompted fix this Attached 2 files.") == "fix this"
    assert gemini.prompt_of("Asked Bard: hi") == "hi" and gemini.prompt_of("Used Gemini") is None
    other = {"header": "YouTube", "title": "Prompted x", "time": "t", "safeHtmlItem": [{"html": "<p>(◕‿◕) a</p>"}]}
    assert gemini.parse_activity_record(other).rows == []
    assert gemini.parse_activity_record({"header": "Gemini Apps"}).bad == 1
    with pytest.raises(Malformed):
        gemini.parse_activity_record(["not", "a", "record"])


def test_openhands_names_and_times() -> None:
    assert openhands.event_index("12.json") == 12
    assert openhands.event_index("event-00007-0123abcd-ef.json") == 7
    assert openhands.event_index("metadata.json") is None and openhands.event_index("event-7-x.json") is None
    assert iso_utc("2025-01-01T00:00:00+02:00") == "2024-12-31T22:00:00.000000Z"
    assert iso_utc("not a time") == "not a time"


def test_a_change_between_the_passes_is_seen(tmp_path: Path) -> None:
    """The importer compares snapshots before writing: a rewritten file (same size) or a new file shows."""
    export = tmp_path / "conversations.json"
    export.write_text("[]")
    before = snapshot([str(tmp_path)])
    assert snapshot([str(tmp_path)]) == before
    os.utime(export, ns=(1, 1))
    assert snapshot([str(tmp_path)]) != before
    before = snapshot([str(tmp_path)])
    (tmp_path / "more.json").write_text("{}")
    assert snapshot([str(tmp_path)]) != before


# --- memory -------------------------------------------------------------------------------------------------------
PEAK_SCRIPT = """
import resource, sys
from llmojid.daemon.exports.sources import discover
from llmojid.daemon.exports.reading import read_unit
if sys.argv[1] == "read":
    found = discover([sys.argv[2]], "")
    rows = sum(len(b.rows) for unit in found.units for b in read_unit(unit))
else:
    rows = 0
print(rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_peak_memory_stays_bounded_on_a_large_export(tmp_path: Path) -> None:
    """Reading a 48 MB export costs a few MB over the interpreter, far less than the file (a whole-file load
    would cost its size several times over). ru_maxrss is in KiB on Linux."""
    export = tmp_path / "conversations.json"
    expected = write_large_chatgpt_export(export, 48 * 1024 * 1024)
    size_kib = export.stat().st_size // 1024

    def run(mode: str) -> tuple[int, int]:
        out = subprocess.run(
            [sys.executable, "-c", PEAK_SCRIPT, mode, str(export)], capture_output=True, text=True, check=True
        )
        rows, peak = out.stdout.split()
        return int(rows), int(peak)

    _, idle = run("idle")
    rows, peak = run("read")
    assert rows == expected
    assert peak - idle < size_kib // 3, f"peak grew by {peak - idle} KiB reading a {size_kib} KiB export"
