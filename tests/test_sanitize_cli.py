"""``llmojid-ctl sanitize [--json]``: the real console script on stdin, with no daemon running anywhere."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from llmojid.common.sanitizer import MAX_INPUT_CHARS
from tests.support import LLMOJID_CTL, make_env

KEY = "ghp_aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV1wX2"


def ctl(workdir: Path, *args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    env = make_env(workdir)
    env["LLMOJID_SOCKET"] = str(workdir / "nobody-listens.sock")  # a daemon is neither needed nor asked
    return subprocess.run([LLMOJID_CTL, "sanitize", *args], input=stdin, env=env, capture_output=True, timeout=60)


def test_plain_mode_redacts_and_keeps_everything_else_byte_for_byte(workdir: Path) -> None:
    text = f"mail bob@example.com\r\nkey: {KEY}\n(◕‿◕) nothing here\nno newline at the end"
    done = ctl(workdir, stdin=text.encode())
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == "mail [EMAIL]\r\nkey: [SECRET]\n(◕‿◕) nothing here\nno newline at the end"
    assert done.stderr == b""
    assert not (workdir / "nobody-listens.sock").exists()


def test_plain_mode_sees_a_multiline_private_key_as_one_block(workdir: Path) -> None:
    key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIGlRHkZ4q9X7Y3vB6c8nM2p\n-----END EC PRIVATE KEY-----"
    text = f"before\n{key}\nafter\n"
    done = ctl(workdir, stdin=text.encode())
    assert done.stdout.decode() == "before\n[SECRET]\nafter\n"


def test_json_mode_gives_one_object_per_line(workdir: Path) -> None:
    text = "call +1 415-555-2671 or alice@example.com\r\nnothing\n\nSSN 123-45-6789"
    done = ctl(workdir, "--json", stdin=text.encode())
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert rows == [
        {"text": "call [PHONE] or [EMAIL]", "found": ["EMAIL", "PHONE"]},
        {"text": "nothing", "found": []},
        {"text": "", "found": []},
        {"text": "SSN [SSN]", "found": ["SSN"]},
    ]


def test_empty_input_gives_empty_output(workdir: Path) -> None:
    for args in ((), ("--json",)):
        done = ctl(workdir, *args, stdin=b"")
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def test_invalid_utf8_is_replaced_not_fatal(workdir: Path) -> None:
    done = ctl(workdir, "--json", stdin=b"bad \xff\xfe byte, mail a.b@example.org\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"text": "bad \ufffd\ufffd byte, mail [EMAIL]", "found": ["EMAIL"]}


def test_over_long_line_is_cut_and_reported_without_its_content(workdir: Path) -> None:
    long_line = "word " * (MAX_INPUT_CHARS // 5 + 100) + "tail-of-the-line-zq"
    text = f"first alice@example.com\n{long_line}\nlast bob@example.com\n"
    done = ctl(workdir, stdin=text.encode())
    assert done.returncode == 0
    out = done.stdout.decode().split("\n")
    assert out[0] == "first [EMAIL]"
    assert out[-2:] == ["last [EMAIL]", ""]
    assert "tail-of-the-line-zq" not in done.stdout.decode()
    assert b"1 line(s) longer than" in done.stderr
    assert b"word" not in done.stderr and b"example" not in done.stderr

    done = ctl(workdir, "--json", stdin=text.encode())
    rows = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [row.get("truncated", False) for row in rows] == [False, True, False]
    assert rows[2] == {"text": "last [EMAIL]", "found": ["EMAIL"]}


def test_help_names_the_command(workdir: Path) -> None:
    env = make_env(workdir)
    done = subprocess.run([LLMOJID_CTL, "--help"], env=env, capture_output=True, timeout=60)
    assert b"sanitize" in done.stdout
