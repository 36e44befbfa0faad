"""Gemini: Google AI Studio prompt files and the Gemini Apps activity of a Google Takeout.

**AI Studio** saves each chat to Drive as one JSON file (often without an extension): ``{runSettings: {model:
"models/gemini-2.5-pro", ...}, systemInstruction, chunkedPrompt: {chunks: [{role: "user" | "model", text,
isThought, parts, createTime, driveDocument | inlineImage | ...}], pendingInputs}}``. A model chunk is one message
(thought chunks are not messages); the prompt is the latest user chunk with text (an attachment chunk has none).
The file names no time: a chunk's ``createTime`` when it has one, else the file's modification time. The session
is the file name; a message's id hashes its place and text.

**Takeout** (My Activity, Gemini Apps, JSON): ``MyActivity.json`` is an array of records ``{header: "Gemini Apps",
title: "Prompted <prompt>", time, products, safeHtmlItem: [{html: "<p>answer</p>"}], ...}``. Each record with an
answer is one message: the answer's HTML as text (block elements become line breaks, entities decoded), the
prompt the title after its verb. Records of other products (a Takeout of Search or YouTube has the same shape)
and records that are not prompts ("Used ...", "Gave feedback ...") yield nothing. The records name no model and
no conversation: the row's model is empty and its id hashes the record's time and title.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any, Final

from llmojid.daemon.adapters.base import digest, get_dict, get_str, make_row
from llmojid.daemon.exports.base import GEMINI, Malformed, Parsed

EXPECTED_STUDIO = "an AI Studio prompt file (an object with chunkedPrompt.chunks)"
EXPECTED_TAKEOUT = "a Takeout MyActivity.json (an array of activity records with header, title and time)"
#: The verbs a prompt record's title starts with (older exports: "Prompted with: ", "Asked Bard: ").
PROMPT_VERBS: Final = ("Prompted with: ", "Asked Gemini: ", "Asked Bard: ", "Prompted ", "Asked ", "Said ")
_ATTACHED: Final = re.compile(r"\s*Attached \d+ files?\.?\s*$", re.IGNORECASE)
_BLOCKS: Final = frozenset({"p", "br", "li", "div", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "pre", "ul", "ol"})


# --- AI Studio ------------------------------------------------------------------------------------------------------
def is_studio_prompt(value: object) -> bool:
    return isinstance(value, dict) and isinstance(get_dict(value, "chunkedPrompt").get("chunks"), list)


def _chunk_text(chunk: dict[str, Any]) -> str:
    text = chunk.get("text")
    if isinstance(text, str) and text.strip():
        return text
    parts = chunk.get("parts")
    if not isinstance(parts, list):
        return ""
    return "".join(
        p["text"]
        for p in parts
        if isinstance(p, dict) and isinstance(p.get("text"), str) and p.get("thought") is not True
    )


def parse_studio_prompt(document: object, *, session: str, fallback_ts: str) -> Parsed:
    """Rows for the face-led model chunks of one AI Studio prompt file. Raises Malformed."""
    if not is_studio_prompt(document) or not isinstance(document, dict):
        raise Malformed(EXPECTED_STUDIO)
    raw = document["chunkedPrompt"]["chunks"]
    out = Parsed(bad=sum(1 for c in raw if not isinstance(c, dict)))
    model = get_str(get_dict(document, "runSettings"), "model").removeprefix("models/")
    prompt = ""
    for index, chunk in enumerate(raw):
        if not isinstance(chunk, dict) or chunk.get("isThought") is True:
            continue
        text = _chunk_text(chunk)
        role = chunk.get("role")
        if role == "user":
            if text.strip():
                prompt = text
            continue
        if role != "model" or not text.strip():
            continue
        row = make_row(
            text,
            harness=GEMINI,
            ts=get_str(chunk, "createTime") or fallback_ts,
            model=model,
            session=session,
            message_id=digest("aistudio", session, str(index), text),
            user_text=prompt,
            cwd="",
        )
        if row is not None:
            out.rows.append(row)
    return out


# --- Takeout --------------------------------------------------------------------------------------------------------
def is_activity_record(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("title"), str) and isinstance(value.get("time"), str)


def is_gemini_record(record: dict[str, Any]) -> bool:
    labels = [record.get("header")]
    products = record.get("products")
    if isinstance(products, list):
        labels += products
    words = [x.lower() for x in labels if isinstance(x, str) and x.strip()]
    return not words or any("gemini" in w or "bard" in w for w in words)


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.out.append("\n")


def html_text(html: str) -> str:
    """The text of an answer's HTML: block elements become line breaks, entities are decoded."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.out).splitlines()]
    return "\n".join(line for line in lines if line)


def prompt_of(title: str) -> str | None:
    """The prompt in a record's title, or None when the record is not a prompt."""
    for verb in PROMPT_VERBS:
        if title.startswith(verb):
            return _ATTACHED.sub("", title[len(verb) :]).strip()
    return None


def parse_activity_record(record: object) -> Parsed:
    """The row of one Takeout activity record (none for other products and non-prompts). Raises Malformed."""
    if not isinstance(record, dict):
        raise Malformed(EXPECTED_TAKEOUT)
    if not is_activity_record(record):
        return Parsed(bad=1)
    if not is_gemini_record(record):
        return Parsed()
    title = record["title"]
    items = record.get("safeHtmlItem")
    answers = [get_str(i, "html") for i in items] if isinstance(items, list) else []
    text = "\n".join(t for t in (html_text(a) for a in answers if a.strip()) if t)
    prompt = prompt_of(title)
    if prompt is None and not text:
        return Parsed()
    row = make_row(
        text,
        harness=GEMINI,
        ts=record["time"],
        model="",
        session="",
        message_id=digest("takeout", record["time"], title),
        user_text=prompt if prompt is not None else title,
        cwd="",
    )
    return Parsed(rows=[row] if row is not None else [])


__all__ = [
    "EXPECTED_STUDIO",
    "EXPECTED_TAKEOUT",
    "html_text",
    "is_activity_record",
    "is_gemini_record",
    "is_studio_prompt",
    "parse_activity_record",
    "parse_studio_prompt",
    "prompt_of",
]
