"""Synthetic harness transcripts and payloads, with the journal rows they must produce.

Shapes follow section 6 of the kaomoji spec: Claude Code 2.1.330 transcripts (conversation events mixed with
``queue-operation``, ``attachment``, ``api-request-blob``, ``system`` ... events; tool use and results; thinking;
sidechain traffic; injected prompts), Codex rollouts in the older (``agent_message``) and the 0.169.0
(``response_item`` assistant + ``item_completed`` mirror) shapes, and Hermes ``post_llm_call`` payloads.

Every turn carries a canary string in its texts so tests can look for plaintext leaks. The faces are spec
vectors the validator must accept; ``Expected`` is what the journal must hold (message ids aside: the journal
does not return them).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

FACES = ("(◕‿◕)", "(｡˃ ᵕ ˂ )", "ʕ•ᴥ•ʔ", "(╯°□°)╯", "\\(^o^)/", "✧*｡(ˊᗜˋ*)*｡✧")
BASE_TIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass(frozen=True)
class Expected:
    ts: str
    model: str
    session: str
    kaomoji: str
    assistant_text: str
    user_text: str
    cwd: str


def _ts(seq: int) -> str:
    return (BASE_TIME + timedelta(seconds=seq)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def jsonl(events: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(e, ensure_ascii=False).encode() + b"\n" for e in events)


# --- Claude Code ------------------------------------------------------------------------------------------------------
@dataclass
class ClaudeSession:
    session: str = "5a0e1c3e-0000-4000-8000-000000000001"
    cwd: str = "/home/someone/project"
    model: str = "claude-sonnet-4-5"
    canary: str = "CANARY"
    seq: int = 0
    last_uuid: str | None = None

    def _event(self, kind: str, message: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
        self.seq += 1
        event: dict[str, Any] = {
            "type": kind,
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.session}/{self.seq}")),
            "parentUuid": self.last_uuid,
            "isSidechain": False,
            "timestamp": _ts(self.seq),
            "sessionId": self.session,
            "cwd": self.cwd,
            "version": "2.1.330",
        }
        if message is not None:
            event["message"] = message
        event.update(extra)
        self.last_uuid = event["uuid"]
        return event

    def turn(self, n: int) -> tuple[list[dict[str, Any]], list[Expected]]:
        """One user turn: prompt, kaomoji-led text, tool use and result, more text; extras on some turns."""
        prompt = f"please do task {n} {self.canary}"
        events = [
            {"type": "queue-operation", "operation": "enqueue", "timestamp": _ts(self.seq), "content": prompt},
            self._event("user", {"role": "user", "content": prompt}),
            {"type": "api-request-blob", "message": {"role": "user", "content": f"(◕‿◕) injected {n}"}},
        ]
        if n % 3 == 0:  # a skill dump and a meta note: injected, never the prompt
            events.append(
                self._event(
                    "user", {"role": "user", "content": [{"type": "text", "text": "Base directory for this skill: /x"}]}
                )
            )
            events.append(self._event("user", {"role": "user", "content": "<local-command-caveat>x"}, isMeta=True))
        expected: list[Expected] = []
        face = FACES[n % len(FACES)]
        body = f"I will start on task {n} {self.canary}."

        def said(text: str) -> dict[str, Any]:
            return {"role": "assistant", "model": self.model, "content": [{"type": "text", "text": text}]}

        events.append(
            self._event(
                "assistant",
                {
                    "role": "assistant",
                    "model": self.model,
                    "content": [{"type": "thinking", "thinking": f"(◕‿◕) thinking {n}", "signature": "x"}],
                },
            )
        )
        events.append(self._event("assistant", said(f"{face} {body}")))
        expected.append(Expected(_ts(self.seq), self.model, self.session, face, body, prompt, self.cwd))
        events.append(
            self._event(
                "assistant",
                {
                    "role": "assistant",
                    "model": self.model,
                    "content": [{"type": "tool_use", "id": f"t{n}", "name": "Bash", "input": {"command": "ls"}}],
                },
            )
        )
        events.append(
            self._event(
                "user",
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": f"t{n}", "content": f"(◕‿◕) tool output {n}"}],
                },
            )
        )
        if n % 4 == 0:  # a subagent's message: not journaled
            events.append(self._event("assistant", said(f"(◕‿◕) subagent {n}"), isSidechain=True))
            events.append(self._event("user", {"role": "user", "content": f"subagent prompt {n}"}, isSidechain=True))
        events.append(self._event("assistant", said(f"Plain text without a face {n}.")))
        second = f"Finished task {n}."
        events.append(self._event("assistant", said(f"  {FACES[(n + 1) % len(FACES)]}  \n{second}")))
        expected.append(
            Expected(_ts(self.seq), self.model, self.session, FACES[(n + 1) % len(FACES)], second, prompt, self.cwd)
        )
        events.append({"type": "system", "subtype": "stop_hook_summary", "timestamp": _ts(self.seq)})
        events.append({"type": "last-prompt", "lastPrompt": prompt})
        return events, expected

    def stop_payload(self, transcript_path: str) -> bytes:
        return json.dumps(
            {
                "session_id": self.session,
                "transcript_path": transcript_path,
                "cwd": self.cwd,
                "prompt_id": "p",
                "permission_mode": "default",
                "hook_event_name": "Stop",
                "stop_hook_active": False,
                "last_assistant_message": "x",
            }
        ).encode()


# --- Codex ------------------------------------------------------------------------------------------------------------
@dataclass
class CodexSession:
    new_shape: bool
    session: str = "0199a000-0000-7000-8000-00000000c0de"
    cwd: str = "/home/someone/codexproject"
    model: str = "gpt-5-codex"
    canary: str = "CANARY"
    seq: int = 0

    def _line(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        return {"timestamp": _ts(self.seq), "type": kind, "payload": payload}

    def _message(self, role: str, text: str) -> dict[str, Any]:
        """A ``response_item`` message line (assistant text is ``output_text``, everyone else's ``input_text``)."""
        part = "output_text" if role == "assistant" else "input_text"
        return self._line("response_item", {"type": "message", "role": role, "content": [{"type": part, "text": text}]})

    def header(self) -> list[dict[str, Any]]:
        lines = [self._line("session_meta", {"id": self.session, "cwd": self.cwd, "cli_version": "0.169.0"})]
        if self.new_shape:
            lines.append(self._message("developer", "(◕‿◕) developer instructions"))
        lines.append(self._message("user", "# AGENTS.md instructions for /x\n\n<INSTRUCTIONS>be nice</INSTRUCTIONS>"))
        lines.append(self._message("user", "<environment_context>\n  <cwd>/x</cwd>\n</environment_context>"))
        return lines

    def turn(self, n: int) -> tuple[list[dict[str, Any]], list[Expected]]:
        prompt = f"codex task {n} {self.canary}"
        context: dict[str, Any] = {"cwd": self.cwd, "model": self.model, "approval_policy": "never"}
        if self.new_shape:
            context["turn_id"] = f"turn-{n}"
        lines = [self._line("turn_context", context)]
        if self.new_shape and n % 2 == 0:
            lines.append(self._message("user", "<environment_context>\n  <cwd>/y</cwd>\n</environment_context>"))
        lines.append(self._message("user", prompt))
        lines.append(self._line("event_msg", {"type": "user_message", "message": prompt}))
        expected: list[Expected] = []
        messages = [
            (f"{FACES[n % len(FACES)]} looking into {n} {self.canary}", True),
            (f"No face here {n}.", False),
            (f"{FACES[(n + 2) % len(FACES)]} done with {n}", True),
        ]
        for i, (text, led) in enumerate(messages):
            written, first_ts = self._assistant(text)
            lines.extend(written)
            if led:
                face = FACES[n % len(FACES)] if i == 0 else FACES[(n + 2) % len(FACES)]
                rest = text[len(face) :].strip()
                expected.append(Expected(first_ts, self.model, self.session, face, rest, prompt, self.cwd))
            call = {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": f"c{n}{i}"}
            lines.append(self._line("response_item", call))
            output = {"type": "function_call_output", "call_id": f"c{n}{i}", "output": f"(◕‿◕) output {n}"}
            lines.append(self._line("response_item", output))
        lines.append(self._line("event_msg", {"type": "task_complete", "last_agent_message": messages[-1][0]}))
        return lines, expected

    def _assistant(self, text: str) -> tuple[list[dict[str, Any]], str]:
        """One assistant message as the shape writes it (twice: the message and its mirror), and its first time."""
        if self.new_shape:
            first = self._message("assistant", text)
            item = {"type": "AgentMessage", "id": "m", "content": [{"type": "Text", "text": text}]}
            mirror = self._line("event_msg", {"type": "item_completed", "turn_id": "t", "item": item})
        else:
            first = self._line("event_msg", {"type": "agent_message", "message": text})
            mirror = self._message("assistant", text)
        return [first, mirror], first["timestamp"]

    def stop_payload(self, transcript_path: str) -> bytes:
        if self.new_shape:
            return json.dumps(
                {
                    "session_id": self.session,
                    "turn_id": "t",
                    "transcript_path": transcript_path,
                    "cwd": self.cwd,
                    "hook_event_name": "Stop",
                    "model": self.model,
                    "permission_mode": "default",
                    "stop_hook_active": False,
                    "last_assistant_message": "x",
                }
            ).encode()
        return json.dumps({"model": self.model, "cwd": self.cwd, "transcript_path": transcript_path}).encode()


# --- Hermes -----------------------------------------------------------------------------------------------------------
@dataclass
class HermesSession:
    session: str = "hermes-session-1"
    cwd: str = "/home/someone/hermesproject"
    model: str = "hermes-4-70b"
    canary: str = "CANARY"

    def __post_init__(self) -> None:
        self.history: list[dict[str, Any]] = [{"role": "system", "content": "(◕‿◕) system prompt"}]

    def turn(self, n: int) -> tuple[bytes, list[tuple[str, str, str]]]:
        """The payload after turn n, and the (kaomoji, assistant_text, user_text) rows it must add."""
        prompt = f"hermes task {n} {self.canary}"
        face = FACES[n % len(FACES)]
        self.history += [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": f"{face} on it {n}", "tool_calls": [{"id": "x"}]},
            {"role": "tool", "content": f"(◕‿◕) tool says {n}"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "y"}]},
            {"role": "assistant", "content": f"Plain {n}"},
        ]
        payload = {
            "hook_event_name": "post_llm_call",
            "tool_name": None,
            "tool_input": None,
            "session_id": self.session,
            "cwd": self.cwd,
            "extra": {
                "user_message": prompt,
                "assistant_response": f"Plain {n}",
                "conversation_history": self.history,
                "model": self.model,
                "platform": "cli",
            },
        }
        return json.dumps(payload).encode(), [(face, f"on it {n}", prompt)]


# --- Gemini CLI -------------------------------------------------------------------------------------------------------
@dataclass
class GeminiSession:
    """A Gemini CLI 0.61 chat file: header, the ``<session_context>`` user record as a ``$set`` rewrite, records,
    ``$set`` updates; ``resume()`` writes what ``--resume`` appends (the header again and the whole history as a
    rewrite: gemini content as parts, re-stamped times, no model)."""

    session: str = "1e95d6d4-a8aa-40f3-80b2-12d6b3c54a66"
    cwd: str = "/home/someone/geminiproject"
    model: str = "gemini-3.1-pro-preview"
    canary: str = "CANARY"
    seq: int = 0

    def __post_init__(self) -> None:
        self.history: list[dict[str, Any]] = []

    def _record(self, kind: str, content: Any, **extra: Any) -> dict[str, Any]:
        self.seq += 1
        record = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.session}/{self.seq}")),
            "timestamp": _ts(self.seq),
            "type": kind,
            "content": content,
            **extra,
        }
        self.history.append(record)
        return record

    def _header(self) -> dict[str, Any]:
        return {"sessionId": self.session, "projectHash": "e3f5", "startTime": _ts(self.seq), "kind": "main"}

    def header(self) -> list[dict[str, Any]]:
        context = self._record("user", [{"text": f"<session_context>\n(◕‿◕) This is the Gemini CLI. {self.canary}"}])
        return [self._header(), {"$set": {"messages": [context], "lastUpdated": _ts(self.seq)}}]

    def turn(self, n: int) -> tuple[list[dict[str, Any]], list[Expected]]:
        """One turn: the prompt, a face-led reply with a tool call, a reply without a face, a face-led answer."""
        prompt = f"gemini task {n} {self.canary}"
        parts = [{"text": prompt}]
        if n % 2 == 0:  # a BeforeAgent hook's context, which the CLI records as a part after the prompt
            parts.append({"text": "<hook_context>(◕‿◕) Begin every message with a kaomoji.</hook_context>"})
        lines = [self._record("user", parts), {"$set": {"lastUpdated": _ts(self.seq)}}]
        expected: list[Expected] = []
        replies = [
            (f"{FACES[n % len(FACES)]} looking into {n} {self.canary}", FACES[n % len(FACES)]),
            (f"No face here {n}.", ""),
            (f"{FACES[(n + 2) % len(FACES)]} done with {n}", FACES[(n + 2) % len(FACES)]),
        ]
        for i, (text, face) in enumerate(replies):
            tokens = {"input": 5, "output": 5, "total": 10}
            extra: dict[str, Any] = {"thoughts": [], "tokens": tokens, "model": self.model}
            if i == 0:
                extra["toolCalls"] = [{"id": f"t{n}", "name": "ls", "result": [{"text": "(◕‿◕) tool output"}]}]
            record = self._record("gemini", text, **extra)
            lines += [record, {"$set": {"lastUpdated": record["timestamp"]}}]
            if face:
                rest = text[len(face) :].strip()
                expected.append(Expected(record["timestamp"], self.model, self.session, face, rest, prompt, self.cwd))
        return lines, expected

    def resume(self) -> list[dict[str, Any]]:
        self.seq += 1
        rewritten = [
            {"id": r["id"], "timestamp": _ts(self.seq), "type": r["type"]}
            | {"content": [{"text": r["content"]}] if isinstance(r["content"], str) else r["content"]}
            for r in self.history
        ]
        return [self._header(), {"$set": {"sessionId": self.session}}, {"$set": {"messages": rewritten}}]

    def after_agent_payload(self, transcript_path: str, prompt: str = "") -> bytes:
        return json.dumps(
            {
                "session_id": self.session,
                "transcript_path": transcript_path,
                "cwd": self.cwd,
                "hook_event_name": "AfterAgent",
                "timestamp": _ts(self.seq),
                "prompt": prompt,
                "prompt_response": "garbled when streamed",
                "stop_hook_active": False,
            }
        ).encode()


# --- Antigravity (agy) ------------------------------------------------------------------------------------------------
@dataclass
class AgySession:
    """An Antigravity step list (``brain/<id>/.system_generated/logs/transcript_full.jsonl``) to the contract of
    spec section 6: ``USER_INPUT`` steps wrap the prompt in ``<USER_REQUEST>``; ``PLANNER_RESPONSE`` steps with
    text are the model's messages. The steps name no model: the Stop payload's ``modelName`` does."""

    brain: str = "3f2c9a1e-agy0-4000-8000-000000000a9e"
    workspace: str = "/home/someone/agyproject"
    canary: str = "CANARY"
    seq: int = 0

    def _step(self, kind: str, content: str | None, **extra: Any) -> dict[str, Any]:
        self.seq += 1
        step: dict[str, Any] = {"type": kind, "created_at": _ts(self.seq), **extra}
        if content is not None:
            step["content"] = content
        return step

    def turn(self, n: int, model: str) -> tuple[list[dict[str, Any]], list[Expected], str]:
        """One turn's steps, the rows they must give under ``model``, and the prompt (``lastUserInput``)."""
        prompt = f"agy task {n} {self.canary}"
        face, face2 = FACES[n % len(FACES)], FACES[(n + 1) % len(FACES)]
        steps = [
            self._step("USER_INPUT", f"<USER_REQUEST>\n{prompt}\n</USER_REQUEST>\n<ADDITIONAL_METADATA>x"),
            self._step("PLANNER_RESPONSE", f"{face} planning {n} {self.canary}"),
            self._step("RUN_COMMAND", "(◕‿◕) command output"),
            self._step("PLANNER_RESPONSE", None, toolCalls=[{"name": "x"}]),
            self._step("PLANNER_RESPONSE", f"Plain step {n}"),
            self._step("PLANNER_RESPONSE", f"{face2} finished {n}"),
        ]
        expected = [
            Expected(
                steps[1]["created_at"], model, self.brain, face, f"planning {n} {self.canary}", prompt, self.workspace
            ),
            Expected(steps[5]["created_at"], model, self.brain, face2, f"finished {n}", prompt, self.workspace),
        ]
        return steps, expected, prompt

    def transcript_path(self, root: str) -> str:
        return f"{root}/brain/{self.brain}/.system_generated/logs/transcript_full.jsonl"

    def stop_payload(self, transcript_path: str, model: str, prompt: str) -> bytes:
        return json.dumps(
            {
                "hookEventName": "Stop",
                "modelName": model,
                "transcriptPath": transcript_path,
                "workspacePaths": [self.workspace],
                "lastUserInput": prompt,
            }
        ).encode()


# --- OpenCode ---------------------------------------------------------------------------------------------------------
def _epoch_ms(seq: int) -> int:
    return int((BASE_TIME + timedelta(seconds=seq)).timestamp() * 1000)


@dataclass
class OpenCodeSession:
    """Finished assistant messages as our plugin hands them over (and as ``opencode.db`` keeps them): per turn a
    prompt with a synthetic part, a tool step without text, a face-led reply in two text parts, and a reply that
    is not face-led."""

    session: str = "ses_0c0de0000000000000000001"
    cwd: str = "/home/someone/project"
    model: str = "claude-sonnet-4-5"
    provider: str = "anthropic"
    canary: str = "CANARY"
    parent_session: str | None = None
    seq: int = 0

    def _id(self, kind: str) -> str:
        self.seq += 1
        return f"{kind}_{self.seq:012x}{self.session[-6:]}"

    def turn(self, n: int) -> tuple[list[dict[str, Any]], list[Expected]]:
        """(documents of the turn's finished assistant messages, the rows they must give)."""
        prompt_id = self._id("msg")
        prompt = f"turn {n} prompt {self.canary}-{n}"
        prompt_info = {
            "id": prompt_id,
            "sessionID": self.session,
            "role": "user",
            "time": {"created": _epoch_ms(self.seq)},
        }
        prompt_parts = [
            {"id": self._id("prt"), "messageID": prompt_id, "type": "text", "text": prompt},
            {"id": self._id("prt"), "messageID": prompt_id, "type": "text", "text": "file body", "synthetic": True},
        ]
        session = {"id": self.session, "parentID": self.parent_session, "directory": self.cwd}
        face = FACES[n % len(FACES)]
        texts = [None, [f"{face} Turn {n} answer {self.canary}-{n}.", f"Second part {n}."], [f"Plain words {n}."]]
        documents: list[dict[str, Any]] = []
        expected: list[Expected] = []
        for texts_of in texts:
            message_id = self._id("msg")
            info = {
                "id": message_id,
                "sessionID": self.session,
                "parentID": prompt_id,
                "role": "assistant",
                "modelID": self.model,
                "providerID": self.provider,
                "path": {"cwd": self.cwd, "root": "/"},
                "time": {"created": _epoch_ms(self.seq), "completed": _epoch_ms(self.seq + 1)},
                "finish": "stop" if texts_of else "tool-calls",
            }
            parts = [
                {"id": self._id("prt"), "messageID": message_id, "type": "text", "text": t} for t in texts_of or []
            ]
            documents.append(
                {
                    "info": info,
                    "parts": parts,
                    "prompt": {"info": prompt_info, "parts": prompt_parts},
                    "session": session,
                }
            )
            if texts_of and texts_of[0].startswith(face) and self.parent_session is None:
                body = "\n".join(texts_of)[len(face) :].strip()
                ts = datetime.fromtimestamp(info["time"]["completed"] / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                expected.append(Expected(ts, self.model, self.session, face, body, prompt, self.cwd))
        return documents, expected


# --- Grok Build -------------------------------------------------------------------------------------------------------
@dataclass
class GrokSession:
    """An ACP ``updates.jsonl`` as the llmoji 3.0 contract describes it (not checked against the live program), with
    its Stop payloads. Per turn: a prompt in two user chunks, a face-led message in three chunks, a tool call, a
    message that is not face-led, a second face-led message, and (after the hook has run) ``turn_completed``."""

    session: str = "0198c0de-0000-7000-8000-000000000001"
    cwd: str = "/home/someone/project"
    model: str = "grok-code-fast-1"
    canary: str = "CANARY"
    seq: int = 0

    def _update(self, kind: str, pid: str, text: str | None = None, **extra: Any) -> dict[str, Any]:
        self.seq += 1
        update: dict[str, Any] = {"sessionUpdate": kind, **extra}
        if text is not None:
            update["content"] = {"type": "text", "text": text}
        meta = {"promptId": pid, "agentTimestampMs": _epoch_ms(self.seq)}
        return {
            "jsonrpc": "2.0",
            "method": "session/update",
            "params": {"sessionId": self.session, "update": update, "_meta": meta},
        }

    def turn(self, n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Expected]]:
        """(lines up to the end of the turn, the ``turn_completed`` line written after the hook ran, expected rows)."""
        pid = f"prompt-{n:04d}"
        prompt = f"turn {n} prompt {self.canary}-{n}"
        face, second = FACES[n % len(FACES)], FACES[(n + 1) % len(FACES)]
        lines = [
            {
                "jsonrpc": "2.0",
                "method": "session/update",
                "params": {"update": {"sessionUpdate": "available_commands_update"}},
            },
            self._update("user_message_chunk", pid, prompt[:7]),
            self._update("user_message_chunk", pid, prompt[7:]),
        ]
        expected: list[Expected] = []

        def message(text: str, chunks: int) -> None:
            size = -(-len(text) // chunks)
            first = None
            for i in range(0, len(text), size):
                lines.append(self._update("agent_message_chunk", pid, text[i : i + size]))
                first = first or lines[-1]
            assert first is not None
            ts = datetime.fromtimestamp(first["params"]["_meta"]["agentTimestampMs"] / 1000, UTC)
            found = next((f for f in (face, second) if text.startswith(f)), None)
            if found is not None:
                stamp = ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                expected.append(
                    Expected(stamp, self.model, self.session, found, text[len(found) :].strip(), prompt, self.cwd)
                )

        message(f"{face} Turn {n} first message {self.canary}-{n}.", 3)
        lines.append(self._update("tool_call", pid, None, toolCallId=f"call-{n}", title="read a file"))
        lines.append(self._update("tool_call_update", pid, None, toolCallId=f"call-{n}", status="completed"))
        message(f"Plain words {n}.", 2)
        lines.append(self._update("tool_call", pid, None, toolCallId=f"call-{n}b", title="run tests"))
        message(f"{second} Turn {n} last message.", 2)
        usage = {"modelUsage": {"grok-4-fast-small": {"outputTokens": 3}, self.model: {"outputTokens": 90}}}
        completed = [self._update("turn_completed", pid, None, prompt_id=pid, usage=usage)]
        return lines, completed, expected

    def chat_history(self) -> list[dict[str, Any]]:
        return [{"type": "user", "content": "x"}, {"type": "assistant", "model_id": self.model, "content": "y"}]

    def stop_payload(self, transcript_path: str, n: int, *, reason: str = "end_turn") -> bytes:
        payload = {
            "hook_event_name": "Stop",
            "session_id": self.session,
            "transcript_path": transcript_path,
            "cwd": self.cwd,
            "reason": reason,
            "promptId": f"prompt-{n:04d}",
        }
        return json.dumps(payload).encode()
