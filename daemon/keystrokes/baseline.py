"""The user's typing baseline and the deviation of a prompt window from it (pure: no I/O, no torch).

Scoring is the evaluation's own rule, so the evaluated error rates describe what the daemon does: the
deviation of a window embedding ``z`` is its cosine distance to the centroid (the mean direction) of the
enrolled embeddings, ``1 - z . m / |m|``. The baseline therefore only needs the mean of the enrolled
embeddings and their count.

Life cycle:
- **enrolling**: the first :data:`ENROLL_WINDOWS` long-enough windows are averaged (as in the
  evaluation, where 5 sentences enrol a user); they get no score.
- **enrolled**: every later window gets a deviation and is flagged when it crosses the threshold taken
  from the evaluation's EER point (different for windows with and without key-release times: the pty
  wrapper never sees releases, editor plugins may). Unflagged windows then join the baseline: as a running
  mean until it holds :data:`GROW_UNTIL` windows (on the dev users a baseline grown from 5 to 10 windows cut
  the per-user EER from 0.076 to 0.071 against the old fixed rate), then with weight :data:`UPDATE_RATE` (an
  exponential moving average), so it follows slow drift (a new keyboard, a new habit) while a flagged
  window (fatigue, stress, someone else) does not move it.
- **sustained**: one window is ~45 keys, and the evaluation shows that a decision over
  :data:`SUSTAINED_WINDOWS` consecutive windows (the mean of their deviations) errs far less than one
  (held-out users, press + release: global EER about two thirds of the single-window one, per-user EER about a
  third). Each score therefore also carries the sustained deviation and its own flag, at the threshold of
  the evaluation's fused EER point.
- **reset**: ``llmojid-ctl typing reset`` forgets the baseline; enrolment starts over.

Linking: a journal turn answers the prompt typed just before it, so :func:`link_turn` picks the latest
window that closed at or before the turn's time, within :data:`MAX_LINK_SECONDS`.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

#: Windows that enrol a baseline; the evaluation (and its EER threshold) uses the same number.
ENROLL_WINDOWS = 5
#: Weight of one accepted window in the baseline once it holds GROW_UNTIL windows. 0.05 means the last ~20
#: windows dominate: a few prompts' worth of change moves the baseline little, a week of new habit moves it.
UPDATE_RATE = 0.05
#: Until the baseline holds this many windows, an accepted window joins it as a running mean (weight
#: 1 / (count + 1)); from then on with UPDATE_RATE. (1 / GROW_UNTIL == UPDATE_RATE: no jump between the two.)
GROW_UNTIL = 20
#: Consecutive scored windows behind one sustained decision (the evaluation's "fuse 3").
SUSTAINED_WINDOWS = 3
#: A journal turn is linked to a prompt window only if the window closed at most this long before it
#: (an assistant can work for many minutes on one prompt; beyond an hour the link is a guess).
MAX_LINK_SECONDS = 3600.0

FloatVec = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Deviation thresholds at the evaluation's EER points, per kind of window: for one window, and for
    the mean of :data:`SUSTAINED_WINDOWS` consecutive windows."""

    with_release: float
    press_only: float
    sustained_with_release: float
    sustained_press_only: float

    def for_window(self, release_known_fraction: float) -> float:
        """The threshold of the regime the window belongs to (at least half its releases known or not)."""
        return self.with_release if release_known_fraction >= 0.5 else self.press_only

    def sustained_for_window(self, release_known_fraction: float) -> float:
        """The sustained-decision threshold of the regime of the newest window."""
        return self.sustained_with_release if release_known_fraction >= 0.5 else self.sustained_press_only


@dataclass(frozen=True, slots=True)
class Baseline:
    """The running mean of enrolled (and later accepted) embeddings, and how many enrolled it."""

    mean: FloatVec
    count: int

    @property
    def enrolled(self) -> bool:
        return self.count >= ENROLL_WINDOWS

    def to_bytes(self) -> bytes:
        """Serialized for sealing: count (4 bytes little endian) then the float32 mean."""
        return int(self.count).to_bytes(4, "little") + np.asarray(self.mean, dtype="<f4").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Baseline:
        if len(data) < 8 or (len(data) - 4) % 4:
            raise ValueError("baseline record has a wrong length")
        count = int.from_bytes(data[:4], "little")
        return cls(np.frombuffer(data[4:], dtype="<f4").astype(np.float32), count)


def embedding_to_bytes(z: FloatVec) -> bytes:
    return np.asarray(z, dtype="<f4").tobytes()


def embedding_from_bytes(data: bytes) -> FloatVec:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


def deviation(baseline: Baseline, z: FloatVec) -> float:
    """Cosine distance of a unit embedding to the baseline's centroid (0 = the same rhythm, ~1 = unrelated)."""
    m = np.asarray(baseline.mean, np.float64)
    norm = float(np.linalg.norm(m))
    return float(1.0 - np.dot(np.asarray(z, np.float64), m) / norm) if norm > 0 else 1.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one window: its new baseline and, once enrolled, its score."""

    baseline: Baseline
    enrolled_now: bool  # the window was used to enrol
    deviation: float | None  # None while enrolling
    flagged: bool


def observe(baseline: Baseline | None, z: FloatVec, threshold: float) -> Outcome:
    """Apply one encoded window to the baseline (``None``: nothing enrolled yet)."""
    z = np.asarray(z, dtype=np.float32)
    if baseline is None:
        return Outcome(Baseline(z.copy(), 1), True, None, False)
    if not baseline.enrolled:
        n = baseline.count
        mean = (baseline.mean * n + z) / (n + 1)
        return Outcome(Baseline(mean.astype(np.float32), n + 1), True, None, False)
    dev = deviation(baseline, z)
    flagged = dev > threshold
    if flagged:
        return Outcome(baseline, False, dev, True)
    rate = max(1.0 / (baseline.count + 1), UPDATE_RATE)
    mean = (1.0 - rate) * baseline.mean + rate * z
    return Outcome(Baseline(mean.astype(np.float32), baseline.count + 1), False, dev, False)


def sustained_deviation(recent: Sequence[float]) -> float | None:
    """Mean deviation of the newest :data:`SUSTAINED_WINDOWS` scores (oldest first), or None when fewer
    windows have been scored since enrolment."""
    if len(recent) < SUSTAINED_WINDOWS:
        return None
    return float(np.mean(recent[-SUSTAINED_WINDOWS:]))


def parse_ts(ts: str) -> float:
    """ISO-8601 time (``Z`` or an offset; naive means UTC) -> POSIX seconds. ValueError when unparsable."""
    dt = datetime.fromisoformat(ts.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        from datetime import UTC

        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def link_turn(turn_time: float, window_times: Sequence[float]) -> int | None:
    """Index of the window a turn answers: the latest closed at or before ``turn_time`` (sorted input),
    no more than MAX_LINK_SECONDS earlier; None when there is none."""
    i = bisect.bisect_right(window_times, turn_time) - 1
    if i < 0 or turn_time - window_times[i] > MAX_LINK_SECONDS:
        return None
    return i
