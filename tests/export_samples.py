"""Export fixtures for the import tests and the bench: where the committed ones are, and a generator of large ones.

The committed fixtures (``tests/data/exports/``, written by ``make_fixtures.py`` there) are small and hand-shaped;
``write_large_chatgpt_export`` writes a ChatGPT ``conversations.json`` of any size, streamed to disk, whose
conversations look like real ones (a branch, models, long messages) so memory and speed can be measured.
"""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "data" / "exports"
CANARY = b"EXPCANARY"
FACES = ("(◕‿◕)", "(╯°□°)╯", "(._.)", "(>_<)")


def large_conversation(n: int, *, messages: int, text_bytes: int) -> dict[str, object]:
    """One ChatGPT conversation with ``messages`` user/assistant pairs of about ``text_bytes`` each."""
    filler = ("lorem ipsum dolor sit amet " * (text_bytes // 27 + 1))[:text_bytes]
    mapping: dict[str, object] = {"root": {"id": "root", "message": None, "parent": None, "children": []}}
    parent = "root"
    for m in range(messages):
        for role in ("user", "assistant"):
            node = f"c{n}-m{m}-{role}"
            face = f"{FACES[(n + m) % len(FACES)]} " if role == "assistant" and m % 2 == 0 else ""
            mapping[node] = {
                "id": node,
                "parent": parent,
                "children": [],
                "message": {
                    "id": node,
                    "author": {"role": role},
                    "create_time": 1_700_000_000 + n * 1000 + m,
                    "content": {"content_type": "text", "parts": [f"{face}{filler}"]},
                    "metadata": {"model_slug": "gpt-4o"} if role == "assistant" else {},
                    "recipient": "all",
                },
            }
            parent = node
    return {"id": f"conv-{n}", "title": f"bench {n}", "mapping": mapping, "current_node": parent}


def write_large_chatgpt_export(path: Path, target_bytes: int, *, messages: int = 20, text_bytes: int = 4000) -> int:
    """Write conversations to ``path`` until it holds about ``target_bytes``; returns the assistant rows to expect
    (face-led messages)."""
    rows = 0
    written = 0
    n = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        while written < target_bytes:
            text = json.dumps(large_conversation(n, messages=messages, text_bytes=text_bytes), ensure_ascii=False)
            out.write(("," if n else "") + text)
            written += len(text.encode())
            rows += (messages + 1) // 2
            n += 1
        out.write("]")
    return rows
