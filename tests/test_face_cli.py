"""``llmojid-ctl face``: the journal's verdict on a message, with no daemon.

In-process through ``cli.main`` for the formats, and through the real console script for standard input,
exit codes and the absence of a daemon (its socket path points at nothing). The verdicts are checked
against the taxonomy itself, so the command can never drift from what the journal does.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from llmojid.client import cli
from llmojid.common.taxonomy import canonicalize, leading_face
from tests.support import LLMOJID_CTL

SPEC_FACES = Path(__file__).parent / "data" / "faces" / "spec_faces.txt"


def run_ctl(args: list[str], env: dict[str, str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([LLMOJID_CTL, *args], input=stdin, env=env, capture_output=True, timeout=60)


@pytest.fixture
def no_daemon_env(daemon_env: dict[str, str], workdir: Path) -> dict[str, str]:
    """A temporary HOME whose daemon socket does not exist: the command must not need one."""
    env = dict(daemon_env)
    env["LLMOJID_SOCKET"] = str(workdir / "nobody-listens.sock")
    return env


def test_json_records(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        ["face", "--json", "(｡˃ ᵕ ˂ ) That is wonderful!", "hello!", "(\u2060◕\u2060‿\u2060◕\u2060✿\u2060) hi"]
    )
    assert code == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records == [
        {"input": "(｡˃ ᵕ ˂ ) That is wonderful!", "kaomoji": "(｡˃ ᵕ ˂ )", "canonical": "(｡˃‿˂)"},
        {"input": "hello!", "kaomoji": None, "canonical": None},
        {
            "input": "(\u2060◕\u2060‿\u2060◕\u2060✿\u2060) hi",
            "kaomoji": "(\u2060◕\u2060‿\u2060◕\u2060✿\u2060)",
            "canonical": "(◕‿◕✿)",
        },
    ]


def test_json_keeps_a_multiline_input_whole(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["face", "--json", "\n(^_^)\nsecond line"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record == {"input": "\n(^_^)\nsecond line", "kaomoji": "(^_^)", "canonical": "(^_^)"}


def test_human_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["face", "ლ(ಠ益ಠლ) why", "[1] Smith et al.", "hello!", "(^_^)\nnext"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "ლ(ಠ益ಠლ) why",
        "  kaomoji-led: ლ(ಠ益ಠლ)   canonical: ლ(ಠ益ಠლ)",
        "  the spec's baseline rule alone would find no face",
        "[1] Smith et al.",
        "  not kaomoji-led",
        '  the spec\'s baseline rule alone would take "[1]"',
        "hello!",
        "  not kaomoji-led",
        "(^_^)\\nnext",  # one line per input: line breaks are shown escaped
        "  kaomoji-led: (^_^)   canonical: (^_^)",
    ]


def test_human_format_cuts_a_long_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["face", "(^_^) " + "x" * 500]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert len(first) == 100 and first.endswith("…")


def test_stdin_one_message_a_line_without_a_daemon(no_daemon_env: dict[str, str]) -> None:
    stdin = "(◕‿◕✿) first\r\n[pre-commit] passed\n\n¯\\_(ツ)_/¯ meh\n".encode() + b"\xff\xfe broken\n"
    proc = run_ctl(["face", "--json"], no_daemon_env, stdin)
    assert proc.returncode == 0, proc.stderr.decode()
    records = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r["input"] for r in records] == [
        "(◕‿◕✿) first",
        "[pre-commit] passed",
        "",
        "¯\\_(ツ)_/¯ meh",
        "\ufffd\ufffd broken",
    ]
    assert [r["kaomoji"] for r in records] == ["(◕‿◕✿)", None, None, "¯\\_(ツ)_/¯", None]
    assert [r["canonical"] for r in records] == ["(◕‿◕✿)", None, None, "(ツ)", None]


def test_stdin_agrees_with_the_taxonomy(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    faces = [line for line in SPEC_FACES.read_text(encoding="utf-8").splitlines() if line]
    messages = [f"{face} The tests pass." for face in faces] + ["Sure, here it is.", "(1/3) Linting"]
    stdin = io.TextIOWrapper(io.BytesIO(("\n".join(messages) + "\n").encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert cli.main(["face", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == len(messages)
    for message, record in zip(messages, records, strict=True):
        found = leading_face(message)
        assert record["input"] == message
        assert record["kaomoji"] == (found[0] if found else None)
        assert record["canonical"] == (canonicalize(found[0]) if found else None)


def test_nothing_face_led_still_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["face", "nothing to see here"]) == 0
    assert capsys.readouterr().out.splitlines() == ["nothing to see here", "  not kaomoji-led"]


def test_a_terminal_that_cannot_show_the_face(no_daemon_env: dict[str, str]) -> None:
    env = dict(no_daemon_env, PYTHONIOENCODING="ascii")
    proc = run_ctl(["face", "(◕‿◕) hi"], env)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "kaomoji-led: (\\u25d5\\u203f\\u25d5)" in proc.stdout.decode("ascii")


def test_usage_error_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["face", "--no-such-flag"]) == 2
    assert "--no-such-flag" in capsys.readouterr().err
