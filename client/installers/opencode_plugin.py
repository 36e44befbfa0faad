"""OpenCode's journal "hook": a small JS plugin, a file that is ours alone (``~/.config/opencode/plugins/llmojid.js``).

OpenCode runs no hook commands; it loads every ``.js``/``.ts`` file in its ``plugins/`` folder. Our plugin listens
to OpenCode's events and, for each finished assistant message with text (``message.updated`` with
``time.completed``), writes the message (its text parts, the user message it answers, model, ids, times) to a
private hand-off file and starts ``llmojid-ctl hook opencode <file>`` detached (``llmojid.client.handoff``):
OpenCode exits right after a turn without waiting for a plugin's children, so a pipe could be cut off. The plugin
keeps the parts it saw in memory (bounded), so writing needs no request back to OpenCode; it never throws into
OpenCode (every handler is guarded) and never waits for the hook (the spawn is asynchronous and unreferenced).

The file is recognised by its first line and names its command on the second, which is how ``hooks status`` and
uninstall read it back; any other file at that path is the user's and is refused untouched. Pure.
"""

from __future__ import annotations

import json

from llmojid.client.installers import commands
from llmojid.client.installers.edits import Edit, SettingsError
from llmojid.client.installers.hooks_json import HookEntry

#: The event our entry stands for (``HookEntry.event``): what the plugin listens to.
EVENT = "message.updated"
MARKER = "// llmojid: OpenCode journal plugin."
COMMAND_PREFIX = "// command: "

_BODY = r"""
// Written by `llmojid-ctl hooks install opencode`; `llmojid-ctl hooks uninstall opencode` removes it.
// For each finished assistant message it writes the message to a private hand-off file (0600, directory 0700)
// and starts the llmojid hook on that file, detached: OpenCode exits right after a turn, so nothing is piped.
// It never throws into OpenCode and never waits for the hook.
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, unlinkSync, writeSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

const KEEP = 256; // messages and sessions remembered (a long TUI session must not grow without bound)
const parts = new Map(); // message id -> Map(part id -> text part)
const infos = new Map(); // message id -> message info (user messages: the prompts)
const sessions = new Map(); // session id -> {id, parentID, directory}
const sent = new Map(); // assistant message ids already handed over

function remember(map, key, value) {
  map.delete(key);
  map.set(key, value);
  while (map.size > KEEP) map.delete(map.keys().next().value);
}

function handoffDir() {
  const run = process.env.XDG_RUNTIME_DIR;
  if (run && run.startsWith("/")) return join(run, "llmojid", "opencode");
  if (process.platform === "darwin") return join(homedir(), "Library", "Caches", "llmojid", "run", "opencode");
  return join(tmpdir(), `llmojid-${process.getuid()}`, "opencode");
}

function textParts(messageID) {
  return [...(parts.get(messageID)?.values() ?? [])];
}

function handOver(document) {
  const dir = handoffDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stamp = String(Date.now()).padStart(15, "0");
  const file = join(dir, `msg-${stamp}-${process.pid}-${Math.random().toString(36).slice(2, 10)}.json`);
  const fd = openSync(file, "wx", 0o600);
  try {
    writeSync(fd, JSON.stringify(document));
  } finally {
    closeSync(fd);
  }
  try {
    const child = spawn(HOOK[0], [...HOOK.slice(1), file], { detached: true, stdio: "ignore" });
    child.on("error", () => {
      try { unlinkSync(file); } catch {}
    });
    child.unref();
  } catch {
    try { unlinkSync(file); } catch {}
  }
}

async function finished(client, info) {
  if (sent.has(info.id)) return;
  remember(sent, info.id, true);
  let own = textParts(info.id);
  let promptParts = textParts(info.parentID);
  let promptInfo = infos.get(info.parentID) ?? null;
  if (own.length === 0 || promptInfo === null) {
    // Parts we did not see (a plugin loaded mid-message): ask OpenCode once.
    try {
      const res = await client.session.messages({ path: { id: info.sessionID } });
      for (const m of res?.data ?? []) {
        const texts = (m.parts ?? []).filter((p) => p.type === "text");
        if (m.info?.id === info.id && own.length === 0) own = texts;
        if (m.info?.id === info.parentID && promptInfo === null) {
          promptInfo = m.info;
          promptParts = texts;
        }
      }
    } catch {}
  }
  parts.delete(info.id);
  if (!own.some((p) => typeof p.text === "string" && p.text.trim())) return; // a tool step: no text
  const session = sessions.get(info.sessionID) ?? { id: info.sessionID, parentID: null };
  handOver({ info, parts: own, prompt: { info: promptInfo, parts: promptParts }, session });
}

export const LlmojidJournal = async ({ client }) => ({
  event: async ({ event }) => {
    try {
      const p = event?.properties ?? {};
      if (event.type === "message.part.updated" && p.part?.type === "text") {
        const byId = parts.get(p.part.messageID) ?? new Map();
        byId.set(p.part.id, p.part);
        remember(parts, p.part.messageID, byId);
      } else if (event.type === "message.updated" && p.info) {
        if (p.info.role === "user") remember(infos, p.info.id, p.info);
        else if (p.info.role === "assistant" && p.info.time?.completed) await finished(client, p.info);
      } else if ((event.type === "session.created" || event.type === "session.updated") && p.info?.id) {
        const s = p.info;
        remember(sessions, s.id, { id: s.id, parentID: s.parentID ?? null, directory: s.directory ?? "" });
      }
    } catch {
      // The journal is never worth failing a turn for.
    }
  },
});
"""


def render(command: str, argv: list[str]) -> str:
    """The plugin file for ``command`` (as the user would read it) run as ``argv`` (home spellings expanded)."""
    if "\n" in command or "\r" in command:
        raise SettingsError("the hook command holds a line break")
    hook = json.dumps(argv, ensure_ascii=True)
    return f"{MARKER}\n{COMMAND_PREFIX}{command}\nconst HOOK = {hook};\n{_BODY.lstrip(chr(10))}"


def find(text: str) -> list[HookEntry]:
    """Our entry if ``text`` is our plugin; nothing for an empty file; SettingsError for a file that is not ours."""
    if not text:
        return []
    lines = text.split("\n", 2)
    if lines[0] != MARKER or len(lines) < 2 or not lines[1].startswith(COMMAND_PREFIX):
        raise SettingsError("is not llmojid's plugin (another file has its name); move it away to install ours")
    return [HookEntry(EVENT, lines[1][len(COMMAND_PREFIX) :])]


def is_current(text: str, home: str) -> bool:
    """Whether ``text`` is exactly the plugin this llmojid writes for the command it names (an upgrade may change
    the plugin's body: the file is then rewritten by ``hooks install`` and shown as not current by ``status``)."""
    try:
        found = find(text)
    except SettingsError:
        return False
    words = commands.argv(found[0].command, home) if found else None
    return words is not None and text == render(found[0].command, words)


def add(text: str, entries: list[HookEntry], home: str) -> tuple[str, list[Edit]]:
    """The plugin for our one entry, and the edit that writes it (``text`` must be empty: the file is ours)."""
    if text:
        raise SettingsError("is not llmojid's plugin; left as it is")
    journal = [e for e in entries if e.event == EVENT]
    if len(journal) != 1:
        raise SettingsError("the OpenCode plugin runs exactly one hook command")
    words = commands.argv(journal[0].command, home)
    if words is None:
        raise SettingsError("the hook command does not parse")
    rendered = render(journal[0].command, words)
    return rendered, [Edit(0, "", rendered)]


def remove(text: str) -> str:
    """The file without our plugin: nothing (SettingsError when the file is not ours)."""
    find(text)
    return ""
