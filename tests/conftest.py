"""Shared fixtures: a real daemon in a temporary HOME, against the real Secret Service of this D-Bus session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import DaemonProcess, make_env, remove_tree, short_tempdir


@pytest.fixture(scope="session", autouse=True)
def _require_secret_service() -> None:
    """The suite runs against a real keyring: say how to get one rather than fail obscurely later."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.exit(
            "no D-Bus session: run the suite with scripts/test (it starts dbus-run-session and an unlocked "
            "gnome-keyring)",
            returncode=4,
        )


@pytest.fixture
def workdir() -> Iterator[Path]:
    root = short_tempdir()
    yield root
    remove_tree(root)


@pytest.fixture
def daemon_env(workdir: Path) -> dict[str, str]:
    return make_env(workdir)


@pytest.fixture
def daemon(workdir: Path, daemon_env: dict[str, str]) -> Iterator[DaemonProcess]:
    """A started daemon; stopped (and its exit checked) after the test."""
    proc = DaemonProcess(workdir, daemon_env).start()
    yield proc
    code = proc.stop()
    assert code == 0, f"daemon exited {code}:\n{proc.log()}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the kill -9 tally (tests/kill_tally.py) when any such trial ran."""
    from tests.kill_tally import KILL_TRIALS

    lines = KILL_TRIALS.table()
    if lines:
        terminalreporter.write_sep("=", "kill -9 trials: acked before the kill vs stored after the restart")
        for line in lines:
            terminalreporter.write_line(line)
