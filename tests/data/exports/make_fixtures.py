"""Writes the export fixtures in this folder (run it again after changing it; the files are committed).

Shapes follow the public descriptions and real samples of each export (see each parser's docstring in
``daemon/exports/``): several models, regenerated and edited branches, attachments and non-text parts, thinking
and tool calls, companion files the importer must leave alone, and a conversation with no face in each format.
Every text carries a canary (``EXPCANARY``) so tests can look for it on disk. The faces are ones whose span is not
in question: ``(◕‿◕)``, ``(╯°□°)╯``, ``(._.)``, ``(>_<)``.

    .venv/bin/python tests/data/exports/make_fixtures.py
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
C = "EXPCANARY"


def uid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts))))


def write(path: Path, value: Any, *, indent: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=indent) + ("\n" if indent else ""), "utf-8")


# --- claude.ai --------------------------------------------------------------------------------------------------------
def claude_message(
    conv: str,
    n: int,
    sender: str,
    created: str,
    parent: str | None,
    *blocks: dict[str, Any],
    attachments: list[dict[str, Any]] | None = None,
    files: list[dict[str, Any]] | None = None,
    with_parent: bool = True,
) -> dict[str, Any]:
    text = "\n\n".join(b["text"] for b in blocks if b["type"] == "text")
    message: dict[str, Any] = {
        "uuid": uid("claude", conv, n),
        "text": text,
        "content": [{"start_timestamp": created, "stop_timestamp": created, "flags": None, **b} for b in blocks],
        "sender": sender,
        "created_at": created,
        "updated_at": created,
        "attachments": attachments or [],
        "files": files or [],
    }
    if with_parent:
        message["parent_message_uuid"] = parent or "00000000-0000-4000-8000-000000000000"
    return message


def t(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "citations": []}


def claude_conversations() -> list[dict[str, Any]]:
    a = "c1"
    ids = [uid("claude", a, n) for n in range(8)]
    linear = [
        claude_message(
            a,
            0,
            "human",
            "2025-03-01T10:00:00.000000Z",
            None,
            t(f"Can you tidy this CSV loader? {C}-a1"),
            attachments=[
                {
                    "file_name": "loader.py",
                    "file_size": 120,
                    "file_type": "text/x-python",
                    "extracted_content": f"def load(): pass  # {C}-attach",
                }
            ],
        ),
        claude_message(
            a,
            1,
            "assistant",
            "2025-03-01T10:00:09.000000Z",
            ids[0],
            {"type": "thinking", "thinking": f"(._.) thinking about it {C}", "summaries": []},
            t(f"(◕‿◕) Sure, here is a tidier loader. {C}-a2"),
            {"type": "tool_use", "name": "artifacts", "input": {"command": "create", "content": "x"}},
            {"type": "tool_result", "name": "artifacts", "content": [t("OK")], "is_error": False},
            t("It reads the header once."),
        ),
        claude_message(
            a,
            2,
            "human",
            "2025-03-01T10:02:00.000000Z",
            ids[1],
            t(f"It crashes on empty files {C}-a3"),
            files=[{"file_name": "screenshot.png"}],
        ),
        claude_message(
            a,
            3,
            "assistant",
            "2025-03-01T10:02:07.000000Z",
            ids[2],
            t(f"(╯°□°)╯ Empty files, of course. Fixed with an early return. {C}-a4"),
        ),
        claude_message(a, 4, "human", "2025-03-01T10:03:00.000000Z", ids[3], t("thanks!")),
        claude_message(a, 5, "assistant", "2025-03-01T10:03:02.000000Z", ids[4], t(f"Glad it works now. {C}-a5")),
    ]
    b = "c2"  # an edited prompt: two branches under the first answer; the newer one is on screen
    bid = [uid("claude", b, n) for n in range(8)]
    edited = [
        claude_message(b, 0, "human", "2025-04-02T08:00:00.000000Z", None, t(f"Name three sorting algorithms {C}-b1")),
        claude_message(
            b,
            1,
            "assistant",
            "2025-04-02T08:00:04.000000Z",
            bid[0],
            t(f"(◕‿◕) Quicksort, mergesort and heapsort. {C}-b2"),
        ),
        claude_message(b, 2, "human", "2025-04-02T08:01:00.000000Z", bid[1], t(f"which is stable? {C}-b3-old")),
        claude_message(
            b, 3, "assistant", "2025-04-02T08:01:05.000000Z", bid[2], t(f"(._.) Only mergesort, of those. {C}-b4-old")
        ),
        claude_message(
            b, 4, "human", "2025-04-02T08:02:00.000000Z", bid[1], t(f"which one is stable, and why? {C}-b5")
        ),
        claude_message(
            b,
            5,
            "assistant",
            "2025-04-02T08:02:06.000000Z",
            bid[4],
            t(f"(>_<) Mergesort: equal keys keep their order when halves merge. {C}-b6"),
        ),
    ]
    c = "c3"  # no face anywhere
    plain = [
        claude_message(
            c, 0, "human", "2025-05-05T12:00:00.000000Z", None, t(f"What is 2+2? {C}-c1"), with_parent=False
        ),
        claude_message(c, 1, "assistant", "2025-05-05T12:00:01.000000Z", None, t(f"4. {C}-c2"), with_parent=False),
    ]
    account = {"uuid": uid("account")}
    return [
        {
            "uuid": uid("claude-conv", a),
            "name": "CSV loader",
            "summary": "",
            "created_at": "2025-03-01T10:00:00Z",
            "updated_at": "2025-03-01T10:03:02Z",
            "account": account,
            "chat_messages": linear,
        },
        {
            "uuid": uid("claude-conv", b),
            "name": "Sorting",
            "summary": "",
            "created_at": "2025-04-02T08:00:00Z",
            "updated_at": "2025-04-02T08:02:06Z",
            "account": account,
            "chat_messages": edited,
        },
        {
            "uuid": uid("claude-conv", c),
            "name": "Arithmetic",
            "summary": "",
            "created_at": "2025-05-05T12:00:00Z",
            "updated_at": "2025-05-05T12:00:01Z",
            "account": account,
            "chat_messages": plain,
        },
    ]


def claude_files() -> list[dict[str, Any]]:
    """The one-file-per-conversation variant: a model per conversation and the leaf on screen."""
    d = "d1"
    did = [uid("claude", d, n) for n in range(6)]
    retry = [
        claude_message(d, 0, "human", "2025-06-10T09:00:00.000000Z", None, t(f"Write a haiku about tests {C}-d1")),
        claude_message(
            d,
            1,
            "assistant",
            "2025-06-10T09:00:03.000000Z",
            did[0],
            t(f"(._.) Red bar, then green bar / ... {C}-d2-retried-away"),
        ),
        claude_message(
            d,
            2,
            "assistant",
            "2025-06-10T09:00:30.000000Z",
            did[0],
            t(f"(◕‿◕) Green at last, I breathe / the suite hums its quiet song {C}-d3"),
        ),
    ]
    e = "e1"
    eid = [uid("claude", e, n) for n in range(4)]
    second = [
        claude_message(e, 0, "human", "2025-06-11T14:00:00.000000Z", None, t(f"Why is my build slow? {C}-e1")),
        claude_message(
            e,
            1,
            "assistant",
            "2025-06-11T14:00:05.000000Z",
            eid[0],
            t(f"(╯°□°)╯ Because it rebuilds everything. {C}-e2"),
        ),
    ]
    return [
        {
            "uuid": uid("claude-conv", d),
            "name": "Haiku",
            "model": "claude-sonnet-4-5-20250929",
            "current_leaf_message_uuid": did[2],
            "created_at": "2025-06-10T09:00:00Z",
            "updated_at": "2025-06-10T09:00:30Z",
            "chat_messages": retry,
        },
        {
            "uuid": uid("claude-conv", e),
            "name": "Build",
            "model": "claude-opus-4-1-20250805",
            "current_leaf_message_uuid": eid[1],
            "created_at": "2025-06-11T14:00:00Z",
            "updated_at": "2025-06-11T14:00:05Z",
            "chat_messages": second,
        },
    ]


# --- ChatGPT ----------------------------------------------------------------------------------------------------------
def gpt_node(
    conv: str,
    n: int,
    parent: str | None,
    role: str | None,
    parts: list[Any] | None,
    *,
    when: float,
    model: str = "",
    content_type: str = "text",
    recipient: str = "all",
    hidden: bool = False,
    extra_content: dict[str, Any] | None = None,
) -> dict[str, Any]:
    node_id = uid("gpt", conv, n)
    message = None
    if role is not None:
        content: dict[str, Any] = {"content_type": content_type}
        if parts is not None:
            content["parts"] = parts
        content.update(extra_content or {})
        metadata: dict[str, Any] = {"request_id": uid("req", conv, n), "timestamp_": "absolute"}
        if model:
            metadata["model_slug"] = model
            metadata["default_model_slug"] = model
        if hidden:
            metadata["is_visually_hidden_from_conversation"] = True
        message = {
            "id": node_id,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": when if role != "system" else None,
            "update_time": None,
            "content": content,
            "status": "finished_successfully",
            "end_turn": role == "assistant" or None,
            "weight": 1.0,
            "metadata": metadata,
            "recipient": recipient,
            "channel": None,
        }
    return {"id": node_id, "message": message, "parent": parent, "children": []}


def gpt_conversation(
    conv: str, title: str, nodes: list[dict[str, Any]], current: str, default_model: str, created: float
) -> dict[str, Any]:
    mapping = {n["id"]: n for n in nodes}
    for n in nodes:
        if n["parent"]:
            mapping[n["parent"]]["children"].append(n["id"])
    return {
        "title": title,
        "create_time": created,
        "update_time": created + 600,
        "mapping": mapping,
        "moderation_results": [],
        "current_node": current,
        "plugin_ids": None,
        "conversation_id": uid("gc", conv),
        "conversation_template_id": None,
        "gizmo_id": None,
        "gizmo_type": None,
        "is_archived": False,
        "is_starred": None,
        "safe_urls": [],
        "blocked_urls": [],
        "default_model_slug": default_model,
        "conversation_origin": None,
        "voice": None,
        "async_status": None,
        "disabled_tool_ids": [],
        "is_do_not_remember": False,
        "memory_scope": "global_enabled",
        "id": uid("gc", conv),
    }


def chatgpt_conversations() -> list[dict[str, Any]]:
    g, base = "g1", 1740000000.0
    ids = [uid("gpt", g, n) for n in range(12)]
    nodes = [
        gpt_node(g, 0, None, None, None, when=base),
        gpt_node(g, 1, ids[0], "system", [""], when=base),
        gpt_node(
            g,
            2,
            ids[1],
            "user",
            [
                {
                    "content_type": "image_asset_pointer",
                    "asset_pointer": "file-service://f1",
                    "size_bytes": 1000,
                    "width": 10,
                    "height": 10,
                },
                f"What is on this whiteboard? {C}-g1",
            ],
            when=base + 1,
            content_type="multimodal_text",
        ),
        gpt_node(
            g,
            3,
            ids[2],
            "assistant",
            [f"(._.) It is a state diagram, I think. {C}-g2-regenerated-away"],
            when=base + 5,
            model="gpt-4o",
        ),
        gpt_node(
            g,
            4,
            ids[2],
            "assistant",
            [f"(◕‿◕) A state machine with three states. {C}-g3"],
            when=base + 30,
            model="gpt-4o",
        ),
        gpt_node(g, 5, ids[4], "user", [f"Count the transitions with python {C}-g4"], when=base + 60),
        gpt_node(
            g,
            6,
            ids[5],
            "assistant",
            None,
            when=base + 62,
            model="o3",
            content_type="thoughts",
            extra_content={
                "thoughts": [{"summary": "Counting", "content": f"(>_<) hm {C}"}],
                "source_analysis_msg_id": "x",
            },
        ),
        gpt_node(
            g,
            7,
            ids[6],
            "assistant",
            None,
            when=base + 63,
            model="o3",
            content_type="code",
            recipient="python",
            extra_content={"language": "unknown", "text": "print(3)"},
        ),
        gpt_node(
            g, 8, ids[7], "tool", None, when=base + 64, content_type="execution_output", extra_content={"text": "3"}
        ),
        gpt_node(
            g,
            9,
            ids[8],
            "assistant",
            [f"(╯°□°)╯ Three transitions, counted twice to be sure. {C}-g5"],
            when=base + 70,
            model="o3",
        ),
    ]
    first = gpt_conversation(g, "Whiteboard", nodes, ids[9], "o3", base)

    h, hb = "h1", 1745000000.0
    hid = [uid("gpt", h, n) for n in range(10)]
    nodes = [
        gpt_node(h, 0, None, None, None, when=hb),
        gpt_node(
            h,
            1,
            hid[0],
            "user",
            None,
            when=hb,
            content_type="user_editable_context",
            hidden=True,
            extra_content={"user_profile": f"I am a tester {C}", "user_instructions": "Open with a kaomoji"},
        ),
        gpt_node(h, 2, hid[1], "user", [f"Remember that I like tea {C}-h1-old"], when=hb + 1),
        gpt_node(h, 3, hid[2], "assistant", [f"(._.) Noted. {C}-h2-old"], when=hb + 3, model="gpt-4o-mini"),
        gpt_node(h, 4, hid[1], "user", [f"Remember that I like green tea {C}-h3"], when=hb + 40),
        gpt_node(h, 5, hid[4], "assistant", ["User likes green tea."], when=hb + 41, model="gpt-4o", recipient="bio"),
        gpt_node(h, 6, hid[5], "tool", ["Model set context updated."], when=hb + 42),
        gpt_node(h, 7, hid[6], "assistant", [f"(>_<) Green tea, noted for good. {C}-h4"], when=hb + 43, model="gpt-4o"),
    ]
    second = gpt_conversation(h, "Tea", nodes, hid[7], "gpt-4o", hb)

    k, kb = "k1", 1750000000.0
    kid = [uid("gpt", k, n) for n in range(4)]
    nodes = [
        gpt_node(k, 0, None, None, None, when=kb),
        gpt_node(k, 1, kid[0], "user", [f"Translate 'cat' to French {C}-k1"], when=kb + 1),
        gpt_node(k, 2, kid[1], "assistant", [f"Chat. {C}-k2"], when=kb + 2, model="gpt-4o"),
    ]
    third = gpt_conversation(k, "French", nodes, kid[2], "gpt-4o", kb)
    return [first, second, third]


# --- Gemini -----------------------------------------------------------------------------------------------------------
SAFETY = [
    {"category": c, "threshold": "OFF"}
    for c in (
        "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
    )
]


def studio(model: str, chunks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runSettings": {
            "temperature": 1.0,
            "model": f"models/{model}",
            "topP": 0.95,
            "topK": 64,
            "maxOutputTokens": 65536,
            "safetySettings": SAFETY,
            "responseMimeType": "text/plain",
            "enableCodeExecution": False,
            "enableSearchAsATool": False,
            "enableBrowseAsATool": False,
            "enableAutoFunctionResponse": False,
            "thinkingBudget": -1,
        },
        "systemInstruction": {"parts": [{"text": "Open every answer with a kaomoji."}]},
        "chunkedPrompt": {"chunks": chunks, "pendingInputs": [{"text": "", "role": "user"}]},
    }


def studio_prompts() -> dict[str, dict[str, Any]]:
    return {
        "Kaomoji helper": studio(
            "gemini-2.5-pro",
            [
                {"driveDocument": {"id": "1AbCdEf"}, "role": "user", "tokenCount": 258},
                {"text": f"Summarise the attached design doc {C}-s1", "role": "user", "tokenCount": 9},
                {
                    "text": f"**Reading the doc**\n\n(._.) thinking {C}",
                    "role": "model",
                    "tokenCount": 310,
                    "isThought": True,
                    "thinkingBudget": -1,
                    "thoughtSignatures": ["c2lnbmF0dXJl"],
                },
                {
                    "text": f"(◕‿◕) The doc proposes a sealed journal. {C}-s2",
                    "role": "model",
                    "finishReason": "STOP",
                    "tokenCount": 40,
                    "parts": [{"text": f"(◕‿◕) The doc proposes a sealed journal. {C}-s2"}],
                },
                {"inlineImage": {"mimeType": "image/png", "data": "iVBORw0KGgo="}, "role": "user", "tokenCount": 258},
                {"text": f"And this diagram? {C}-s3", "role": "user", "tokenCount": 5},
                {
                    "text": "",
                    "role": "model",
                    "tokenCount": 120,
                    "isThought": True,
                    "parts": [{"text": "thinking", "thought": True}],
                },
                {
                    "text": f"(╯°□°)╯ The diagram contradicts the doc. {C}-s4",
                    "role": "model",
                    "finishReason": "STOP",
                    "tokenCount": 12,
                    "createTime": "2025-07-01T10:05:00.000Z",
                },
            ],
        ),
        "Chat about trees": studio(
            "gemini-2.0-flash",
            [
                {"text": f"Why do leaves fall? {C}-t1", "role": "user", "tokenCount": 6},
                {
                    "text": f"Deciduous trees shed them to save water. {C}-t2",
                    "role": "model",
                    "finishReason": "STOP",
                    "tokenCount": 11,
                },
            ],
        ),
    }


def takeout() -> list[dict[str, Any]]:
    def record(when: str, title: str, html: str | None, **extra: Any) -> dict[str, Any]:
        r: dict[str, Any] = {
            "header": "Gemini Apps",
            "title": title,
            "time": when,
            "products": ["Gemini Apps"],
            "activityControls": ["Gemini Apps Activity"],
        }
        if html is not None:
            r["safeHtmlItem"] = [{"html": html}]
        r.update(extra)
        return r

    return [  # newest first, as Takeout writes it
        record("2025-08-03T09:00:00.000Z", "Used an Assistant feature", None),
        record(
            "2025-08-02T18:30:00.123Z",
            f"Prompted what does this error mean {C}-m1 Attached 1 file.",
            f"<p>(&gt;_&lt;) The import fails because the module is missing. {C}-m2</p>"
            "<ul><li>install it</li><li>retry</li></ul>",
            attachedFiles=["trace.txt"],
        ),
        record(
            "2025-08-01T07:15:00.000Z", f"Prompted plan my week {C}-m3", f"<p>Here is a plan for your week. {C}-m4</p>"
        ),
        record(
            "2025-07-30T20:00:00.000Z",
            f"Prompted tell me a joke {C}-m5",
            f"<h3>(◕‿◕) Why did the function return early?</h3><p>It had &quot;issues&quot;. {C}-m6</p>",
        ),
        record("2025-07-29T08:00:00.000Z", "Gave feedback: Good response", None),
    ]


# --- OpenHands --------------------------------------------------------------------------------------------------------
def openhands_v0() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    meta = {
        "conversation_id": "a1b2c3d4e5f6",
        "github_user_id": None,
        "selected_repository": None,
        "title": "Fix the parser",
        "last_updated_at": "2025-09-01T10:10:00",
        "created_at": "2025-09-01T10:00:00",
        "llm_model": "anthropic/claude-sonnet-4-20250514",
        "trigger": "gui",
    }
    events = [
        {
            "id": 0,
            "timestamp": "2025-09-01T10:00:00.100000",
            "source": "agent",
            "message": "",
            "action": "system",
            "args": {"content": "You are OpenHands agent.", "tools": [], "agent_class": "CodeActAgent"},
        },
        {
            "id": 1,
            "timestamp": "2025-09-01T10:00:01.000000",
            "source": "user",
            "message": f"Fix the failing parser test {C}-o1",
            "action": "message",
            "args": {
                "content": f"Fix the failing parser test {C}-o1",
                "file_urls": [],
                "image_urls": ["img.png"],
                "wait_for_response": False,
            },
        },
        {
            "id": 2,
            "timestamp": "2025-09-01T10:00:01.200000",
            "source": "user",
            "message": "",
            "action": "recall",
            "args": {"recall_type": "workspace_context", "query": "Fix the failing parser test"},
        },
        {
            "id": 3,
            "timestamp": "2025-09-01T10:00:04.000000",
            "source": "agent",
            "message": "Running command",
            "action": "run",
            "args": {
                "command": "pytest -x",
                "is_input": False,
                "thought": f"(◕‿◕) Let me run the tests first. {C}-o2",
                "blocking": False,
            },
            "tool_call_metadata": {
                "function_name": "execute_bash",
                "tool_call_id": "toolu_01",
                "model_response": {"id": "r1", "model": "claude-sonnet-4-20250514"},
                "total_calls_in_response": 1,
            },
        },
        {
            "id": 4,
            "timestamp": "2025-09-01T10:00:09.000000",
            "source": "agent",
            "message": "Command finished",
            "cause": 3,
            "observation": "run",
            "content": "1 failed",
            "extras": {"command": "pytest -x", "metadata": {"exit_code": 1}},
        },
        {
            "id": 5,
            "timestamp": "2025-09-01T10:00:20.000000",
            "source": "agent",
            "message": "",
            "action": "message",
            "args": {
                "content": f"(╯°□°)╯ The tokenizer drops the last byte. {C}-o3",
                "file_urls": None,
                "image_urls": None,
                "wait_for_response": True,
            },
        },
        {
            "id": 6,
            "timestamp": "2025-09-01T10:01:00.000000",
            "source": "user",
            "message": f"go ahead {C}-o4",
            "action": "message",
            "args": {"content": f"go ahead {C}-o4", "file_urls": [], "image_urls": [], "wait_for_response": False},
        },
        {
            "id": 7,
            "timestamp": "2025-09-01T10:02:00.000000",
            "source": "agent",
            "message": "All done",
            "action": "finish",
            "args": {
                "final_thought": f"(._.) Fixed; the suite passes. {C}-o5",
                "task_completed": "true",
                "outputs": {},
                "thought": "",
            },
        },
    ]
    return meta, events


def openhands_v1() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    state = {
        "id": "7f3e2a10-0000-4000-8000-00000000beef",
        "agent": {
            "kind": "Agent",
            "llm": {"model": "openai/gpt-5-2025-08-07", "usage_id": "agent"},
            "tools": [{"name": "terminal"}, {"name": "file_editor"}],
        },
        "workspace": {"kind": "LocalWorkspace", "working_dir": "/home/someone/proj"},
        "persistence_dir": "/home/someone/.openhands/conversations",
        "max_iterations": 500,
        "execution_status": "finished",
    }

    def text(s: str) -> list[dict[str, Any]]:
        return [{"cache_prompt": False, "type": "text", "text": s}]

    events = [
        {
            "kind": "SystemPromptEvent",
            "id": uid("oh1", 0),
            "timestamp": "2025-10-01T09:00:00.000001",
            "source": "agent",
            "system_prompt": {"type": "text", "text": "You are OpenHands agent."},
            "tools": [],
        },
        {
            "kind": "MessageEvent",
            "id": uid("oh1", 1),
            "timestamp": "2025-10-01T09:00:01.000001",
            "source": "user",
            "llm_message": {"role": "user", "content": text(f"Add a --json flag {C}-v1"), "tool_calls": None},
            "activated_skills": [],
            "extended_content": [],
        },
        {
            "kind": "ActionEvent",
            "id": uid("oh1", 2),
            "timestamp": "2025-10-01T09:00:05.000001",
            "source": "agent",
            "thought": text(f"(◕‿◕) I'll look at the CLI first. {C}-v2"),
            "reasoning_content": "hidden reasoning",
            "action": {"kind": "TerminalAction", "command": "ls", "is_input": False},
            "tool_name": "terminal",
            "tool_call_id": "call_1",
            "tool_call": {"id": "call_1", "name": "terminal", "arguments": '{"command": "ls"}', "origin": "completion"},
            "llm_response_id": "resp_1",
            "security_risk": "LOW",
        },
        {
            "kind": "ObservationEvent",
            "id": uid("oh1", 3),
            "timestamp": "2025-10-01T09:00:06.000001",
            "source": "environment",
            "tool_name": "terminal",
            "tool_call_id": "call_1",
            "observation": {"kind": "TerminalObservation", "content": [{"type": "text", "text": "cli.py"}]},
            "action_id": uid("oh1", 2),
        },
        {
            "kind": "ActionEvent",
            "id": uid("oh1", 4),
            "timestamp": "2025-10-01T09:01:00.000001",
            "source": "agent",
            "thought": [],
            "action": {"kind": "FinishAction", "message": f"(>_<) Added --json, with a test. {C}-v3"},
            "tool_name": "finish",
            "tool_call_id": "call_2",
            "tool_call": {"id": "call_2", "name": "finish", "arguments": "{}", "origin": "completion"},
            "llm_response_id": "resp_2",
            "security_risk": "UNKNOWN",
        },
        {
            "kind": "MessageEvent",
            "id": uid("oh1", 5),
            "timestamp": "2025-10-01T09:02:00.000001",
            "source": "agent",
            "llm_message": {"role": "assistant", "content": text(f"Anything else? {C}-v4"), "tool_calls": None},
            "llm_response_id": "resp_3",
            "activated_skills": [],
            "extended_content": [],
        },
    ]
    return state, events


def main() -> None:
    for sub in ("claude_ai", "claude_ai_files", "chatgpt", "chatgpt_split", "gemini", "openhands"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
    write(HERE / "claude_ai" / "conversations.json", claude_conversations())
    write(
        HERE / "claude_ai" / "users.json",
        [{"uuid": uid("account"), "full_name": "Some One", "email_address": "someone@example.com"}],
    )
    write(HERE / "claude_ai" / "projects.json", [])
    for conv in claude_files():
        write(HERE / "claude_ai_files" / f"{conv['name']}.json", conv, indent=2)
    write(HERE / "claude_ai_files" / "export_summary.json", {"conversations": 2, "exported_at": "2025-06-12T00:00Z"})

    write(HERE / "chatgpt" / "conversations.json", chatgpt_conversations())
    # Large accounts get the same array split over numbered files (beside a conversations.json.index).
    write(HERE / "chatgpt_split" / "conversations-000.json", chatgpt_conversations()[:2])
    write(HERE / "chatgpt_split" / "conversations-001.json", chatgpt_conversations()[2:])
    write(HERE / "chatgpt" / "user.json", {"id": "user-x", "email": "someone@example.com", "chatgpt_plus_user": True})
    write(HERE / "chatgpt" / "message_feedback.json", [])
    (HERE / "chatgpt" / "chat.html").write_text("<html><body>your chats</body></html>\n", "utf-8")

    studio_dir = HERE / "gemini" / "Takeout" / "Drive" / "Google AI Studio"
    for name, prompt in studio_prompts().items():
        write(studio_dir / name, prompt, indent=2)  # AI Studio files carry no extension
    activity = HERE / "gemini" / "Takeout" / "My Activity"
    write(activity / "Gemini Apps" / "MyActivity.json", takeout(), indent=2)
    write(
        activity / "Search" / "MyActivity.json",
        [
            {
                "header": "Search",
                "title": "Searched for kaomoji",
                "time": "2025-08-01T00:00:00.000Z",
                "products": ["Search"],
            }
        ],
        indent=2,
    )
    (HERE / "gemini" / "Takeout" / "archive_browser.html").write_text("<html></html>\n", "utf-8")

    meta, events = openhands_v0()
    old = HERE / "openhands" / "sessions" / meta["conversation_id"]
    write(old / "metadata.json", meta)
    for event in events:
        write(old / "events" / f"{event['id']}.json", event)
    quiet = HERE / "openhands" / "sessions" / "0f0e0d0c0b0a"  # a conversation with no face
    write(quiet / "metadata.json", {**meta, "conversation_id": "0f0e0d0c0b0a", "llm_model": "openai/gpt-4.1"})
    for n, (source, content) in enumerate([("user", f"list the files {C}-q1"), ("agent", f"Done: 3 files. {C}-q2")]):
        write(
            quiet / "events" / f"{n}.json",
            {
                "id": n,
                "timestamp": f"2025-09-02T08:00:0{n}",
                "source": source,
                "message": content,
                "action": "message",
                "args": {"content": content},
            },
        )
    state, events = openhands_v1()
    new = HERE / "openhands" / "conversations" / state["id"].replace("-", "")
    write(new / "base_state.json", state)
    for n, event in enumerate(events):
        write(new / "events" / f"event-{n:05d}-{event['id']}.json", event)
    (new / "events" / ".eventlog.lock").write_text("", "utf-8")
    os.utime(HERE, None)


if __name__ == "__main__":
    main()
