"""The wall clock, checked against the boot clock: was it stepped since the daemon started?

Durations in the daemon (rate limits, timeouts, idle unload, idle exit) all use monotonic clocks, which a step of
the wall clock (``date -s``, an NTP step, a wrong RTC fixed at boot) does not move. What the wall clock decides is
when things happened, and one thing that destroys data: retention drops text older than N days. A clock stepped a
year ahead would drop it all, so retention asks this watch first and waits while the clock disagrees.

The boot clock counts suspend too (``CLOCK_BOOTTIME``), so a laptop asleep for a week is not a step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

#: How far the wall clock may drift from the boot clock before it counts as stepped (NTP slews far less).
MAX_STEP_SECONDS: Final = 600.0
#: The boot clock: counts time asleep (Linux); macOS's CLOCK_MONOTONIC does as well.
_BOOT_CLOCK: Final = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def wall_minus_boot() -> float:
    """Seconds between the wall clock and the boot clock: constant unless the wall clock is stepped."""
    return time.time() - time.clock_gettime(_BOOT_CLOCK)


@dataclass
class WallClockWatch:
    """Remembers the wall/boot offset at start; ``step_seconds`` is how far the wall clock moved since."""

    read: Callable[[], float] = wall_minus_boot
    baseline: float = field(init=False)

    def __post_init__(self) -> None:
        self.baseline = self.read()

    def step_seconds(self) -> float:
        return self.read() - self.baseline

    def stepped(self) -> bool:
        return abs(self.step_seconds()) > MAX_STEP_SECONDS
