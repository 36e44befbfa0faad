"""Pure keystroke-timing features: key events in, per-event feature vectors and window summaries out.

A key event is ``(press_ms, release_ms, key_class)``: a monotonic press time in milliseconds, the release
time when the source knows it (editor plugins, key loggers) or ``None`` (the pty wrapper only sees bytes),
and a content-free :class:`KeyClass`. Nothing here ever sees which character was typed.

Why these features: keystroke biometrics (Killourhy & Maxion 2009; TypeNet, Acien et al. 2022) rest on
hold (dwell), press-to-press (flight) and release-to-press (up-down) times. We add the structure a prompt
has on top of that: pauses, bursts between pauses, and corrections. Everything is computed causally (an
event's features depend only on it and earlier events) so the TCN on top stays causal end to end.

Robustness: clocks jump (suspend/resume, NTP steps, two sources merged out of order) and releases go
missing. Negative gaps are clamped to zero, absurd gaps to a named cap, impossible dwells are treated as
unknown, and a release-known mask tells the model which dwell values are real. No function here does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from llmojid.client.protocol import KeyClass as KeyClass  # re-exported: the key classes features see

# --- caps and thresholds (ms), gathered here so every clamp is visible -------------------------------
#: A press-to-press gap longer than this is "the user stopped"; longer gaps (lunch, suspend, clock jump
#: forward) carry no more rhythm information and would dominate a log scale, so they are clamped here.
MAX_GAP_MS = 5_000.0
#: Longest believable key hold. Longer "holds" are auto-repeat or a lost release event: clamped.
MAX_DWELL_MS = 2_000.0
#: Release-to-press overlap cannot be more negative than this (rollover of fast typists is ~-300 ms).
MIN_UP_DOWN_MS = -MAX_DWELL_MS
#: A flight at least this long ends a burst (a thinking pause rather than a typing gap). ~2x the
#: median flight of slow typists in the Aalto data.
PAUSE_MS = 750.0
#: Windows longer than this keep only their latest events (a prompt of 500 keys is already a lot, and
#: the encoder's cost grows with length).
MAX_WINDOW_EVENTS = 512

#: Log-time normalisation for the model input: (log1p(ms) - LOG_CENTER) / LOG_SCALE puts typical
#: flights (50-500 ms) and dwells (50-200 ms) roughly in [-1, 1].
LOG_CENTER = 5.0
LOG_SCALE = 1.5


#: The key classes are the wire protocol's (one definition, stable numbers): CHAR, SPACE, BACKSPACE (and
#: delete), ENTER, TAB, NAV (arrows, escape sequences, function keys), PASTE (one event per paste burst).
N_CLASSES = len(KeyClass)


class KeyEvent(NamedTuple):
    """One key press: monotonic press time (ms), release time (ms) or None when unknown, and its class."""

    press_ms: float
    release_ms: float | None
    key_class: int


Window = Sequence[KeyEvent]

# --- per-event feature layout (the TCN input) --------------------------------------------------------
F_FLIGHT = 0  # normalised log press-to-press time (0 for the first event)
F_DWELL = 1  # normalised log hold time, 0 where unknown
F_DWELL_KNOWN = 2  # 1 when this event's release is known and plausible
F_UP_DOWN = 3  # signed log release(prev)-to-press(this), 0 where unknown
F_UP_DOWN_KNOWN = 4  # 1 when the previous release is known
F_PAUSE = 5  # 1 when the flight before this event is a pause (>= PAUSE_MS)
F_FIRST = 6  # 1 for the first event of the window (its flight is undefined)
F_BURST_POS = 7  # log1p(position inside the current burst) / 3
F_CORRECTION = 8  # running fraction of corrections (backspace) so far in the window
F_CLASS0 = 9  # one-hot key class, N_CLASSES columns
N_FEATURES = F_CLASS0 + N_CLASSES


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Aggregate, content-free description of one window (one prompt), for display and baselines."""

    n_events: int
    duration_ms: float
    median_flight_ms: float
    median_dwell_ms: float  # nan when no release is known
    release_known_fraction: float
    pause_count: int
    mean_burst_length: float
    correction_rate: float  # backspaces / (backspaces + characters that produce text)
    paste_count: int


def _norm_log(ms: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Map non-negative milliseconds to the model's log scale."""
    return (np.log1p(ms) - LOG_CENTER) / LOG_SCALE


def _signed_log(ms: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Log scale that keeps the sign (up-down times are negative when keys overlap)."""
    return np.sign(ms) * np.log1p(np.abs(ms)) / LOG_SCALE


def window_arrays(
    window: Window,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Split a window into (press_ms, release_ms with nan for unknown, key_class) arrays.

    Events with a non-finite press time are dropped (a broken source must not poison the window);
    unknown classes fall back to CHAR, the most common class. Only the last MAX_WINDOW_EVENTS events are kept.
    """
    if len(window) > MAX_WINDOW_EVENTS:
        window = window[-MAX_WINDOW_EVENTS:]
    press = np.fromiter((e[0] for e in window), dtype=np.float64, count=len(window))
    release = np.fromiter((math.nan if e[1] is None else e[1] for e in window), dtype=np.float64, count=len(window))
    cls = np.fromiter((e[2] for e in window), dtype=np.int64, count=len(window))
    keep = np.isfinite(press)
    cls = np.where((cls >= 0) & (cls < N_CLASSES), cls, int(KeyClass.CHAR))
    return press[keep], release[keep], cls[keep]


def flight_times(press: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Press-to-press times in ms, clamped to [0, MAX_GAP_MS]; the first event gets 0.

    Why clamp: a negative gap is a clock jump backwards (or sources merged out of order), not a typing
    behaviour; a gap beyond MAX_GAP_MS is an absence, whose exact length says nothing about rhythm.
    """
    flight = np.zeros_like(press)
    if press.size > 1:
        flight[1:] = np.diff(press)
    return np.clip(np.nan_to_num(flight, nan=0.0, posinf=MAX_GAP_MS, neginf=0.0), 0.0, MAX_GAP_MS)


def dwell_times(
    press: npt.NDArray[np.float64], release: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Hold times in ms and a mask of which are known.

    A missing release (nan) or a release before its press (clock jump) is unknown; holds beyond
    MAX_DWELL_MS (auto-repeat, lost release) are clamped to the cap but still count as known.
    """
    dwell = release - press
    known = np.isfinite(dwell) & (dwell >= 0.0)
    return np.where(known, np.minimum(dwell, MAX_DWELL_MS), 0.0), known


def up_down_times(
    press: npt.NDArray[np.float64], release: npt.NDArray[np.float64], dwell_known: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Release(previous)-to-press(this) times in ms and a mask; negative when keys overlap (rollover)."""
    ud = np.zeros_like(press)
    known = np.zeros(press.shape, dtype=bool)
    if press.size > 1:
        ud[1:] = press[1:] - release[:-1]
        known[1:] = dwell_known[:-1]
    ud = np.where(known, np.clip(np.nan_to_num(ud, nan=0.0), MIN_UP_DOWN_MS, MAX_GAP_MS), 0.0)
    return ud, known


def burst_positions(flight: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Pause flags (flight >= PAUSE_MS) and each event's 0-based position inside its burst."""
    pause = flight >= PAUSE_MS
    if flight.size:
        pause[0] = False
    starts = pause.copy()
    if flight.size:
        starts[0] = True
    idx = np.arange(flight.size)
    last_start = np.maximum.accumulate(np.where(starts, idx, 0)) if flight.size else idx
    return pause, idx - last_start


def running_correction_rate(cls: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Fraction of events so far (inclusive) that were corrections (backspace/delete)."""
    corrections = np.cumsum(cls == KeyClass.BACKSPACE)
    return corrections / np.arange(1, cls.size + 1)


def event_features(window: Window) -> npt.NDArray[np.float32]:
    """The TCN input for one window: a (T, N_FEATURES) float32 matrix, one row per key event.

    Columns are the F_* constants above: log-scaled flight, dwell and up-down times, their known-masks,
    pause / first / burst-position flags, the running correction rate and the class one-hot.
    """
    return features_from_arrays(*window_arrays(window))


def features_from_arrays(
    press: npt.NDArray[np.float64], release: npt.NDArray[np.float64], cls: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """:func:`event_features` on arrays (press ms, release ms or nan, class), as window_arrays returns."""
    n = press.size
    out = np.zeros((n, N_FEATURES), dtype=np.float32)
    if n == 0:
        return out
    flight = flight_times(press)
    dwell, dwell_known = dwell_times(press, release)
    ud, ud_known = up_down_times(press, release, dwell_known)
    pause, burst_pos = burst_positions(flight)
    out[:, F_FLIGHT] = _norm_log(flight)
    out[0, F_FLIGHT] = 0.0
    out[:, F_DWELL] = np.where(dwell_known, _norm_log(dwell), 0.0)
    out[:, F_DWELL_KNOWN] = dwell_known
    out[:, F_UP_DOWN] = np.where(ud_known, _signed_log(ud), 0.0)
    out[:, F_UP_DOWN_KNOWN] = ud_known
    out[:, F_PAUSE] = pause
    out[0, F_FIRST] = 1.0
    out[:, F_BURST_POS] = np.log1p(burst_pos) / 3.0
    out[:, F_CORRECTION] = running_correction_rate(cls)
    out[np.arange(n), F_CLASS0 + cls] = 1.0
    return out


def windows_to_batch(
    windows: Sequence[Window], max_len: int = MAX_WINDOW_EVENTS
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Stack windows into the encoder's input: x (B, T, N_FEATURES) and valid mask (B, T).

    Windows are right-padded with zeros (the TCN is causal, so padding after the last real event cannot
    change any real event's output) and longer windows keep their latest ``max_len`` events.
    """
    return stack_features([event_features(w)[-max_len:] for w in windows])


def stack_features(
    feats: Sequence[npt.NDArray[np.float32]],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Right-pad per-window (T_i, N_FEATURES) matrices into (B, T, N_FEATURES) plus the valid mask."""
    t = max((f.shape[0] for f in feats), default=0)
    t = max(t, 1)
    x = np.zeros((len(feats), t, N_FEATURES), dtype=np.float32)
    mask = np.zeros((len(feats), t), dtype=bool)
    for i, f in enumerate(feats):
        x[i, : f.shape[0]] = f
        mask[i, : f.shape[0]] = True
    return x, mask


def split_windows(events: Sequence[KeyEvent]) -> list[list[KeyEvent]]:
    """Cut a stream of key events into prompt windows: each window ends with (and includes) an ENTER.

    Events after the last ENTER form a final, still-open window (returned last, not ending in ENTER), so
    the caller can keep it and append the next batch. No empty windows are returned.
    """
    windows: list[list[KeyEvent]] = []
    current: list[KeyEvent] = []
    for ev in events:
        current.append(ev)
        if ev[2] == KeyClass.ENTER:
            windows.append(current)
            current = []
    if current:
        windows.append(current)
    return windows


def rhythm_events(window: Window) -> list[KeyEvent]:
    """The events the encoder sees: the window without PASTE events and without its closing ENTER.

    Why: a paste is not typing, so its timing says nothing about the typist; the closing ENTER is the
    prompt's terminator, and the training data (Aalto) records none (sentences end on a Next button),
    so the model has never learnt what an ENTER looks like. Both stay visible in :func:`window_stats`.
    """
    events = [e for e in window if e[2] != KeyClass.PASTE]
    if events and events[-1][2] == KeyClass.ENTER:
        events.pop()
    return events


def window_is_closed(window: Window) -> bool:
    """True when the window ended with ENTER (a submitted prompt)."""
    return len(window) > 0 and window[-1][2] == KeyClass.ENTER


def window_stats(window: Window) -> WindowStats:
    """Aggregate pause, burst and correction structure of one window (no per-key data is kept)."""
    press, release, cls = window_arrays(window)
    n = press.size
    if n == 0:
        return WindowStats(0, 0.0, math.nan, math.nan, 0.0, 0, 0.0, 0.0, 0)
    flight = flight_times(press)
    dwell, known = dwell_times(press, release)
    pause, _ = burst_positions(flight)
    n_bursts = int(pause.sum()) + 1
    corrections = int((cls == KeyClass.BACKSPACE).sum())
    typed = int(np.isin(cls, (KeyClass.CHAR, KeyClass.SPACE, KeyClass.TAB)).sum())
    return WindowStats(
        n_events=n,
        duration_ms=float(flight[1:].sum()),
        median_flight_ms=float(np.median(flight[1:])) if n > 1 else math.nan,
        median_dwell_ms=float(np.median(dwell[known])) if known.any() else math.nan,
        release_known_fraction=float(known.mean()),
        pause_count=int(pause.sum()),
        mean_burst_length=n / n_bursts,
        correction_rate=corrections / (corrections + typed) if corrections + typed else 0.0,
        paste_count=int((cls == KeyClass.PASTE).sum()),
    )


# --- dataset key mappings ---------------------------------------------------------------------------
#: JavaScript keyCodes of modifiers. They are dropped: a terminal (the pty wrapper) never sees a modifier
#: on its own, only the character it produces, so training on them would teach the encoder a signal the
#: daemon never gets. (CMU's "Shift.r" is the shifted R itself, one event, so it is unaffected.)
AALTO_MODIFIER_KEYCODES = frozenset({16, 17, 18, 20, 91, 92, 93, 144, 145, 224, 225})
#: arrows, home/end, page up/down, insert, escape, F1-F12: all arrive as escape sequences in a terminal
AALTO_NAV_KEYCODES = frozenset({27, 33, 34, 35, 36, 37, 38, 39, 40, 45, *range(112, 124)})
_AALTO_FIXED = {8: KeyClass.BACKSPACE, 46: KeyClass.BACKSPACE, 13: KeyClass.ENTER, 32: KeyClass.SPACE, 9: KeyClass.TAB}


def aalto_key_class(keycode: int) -> KeyClass | None:
    """Key class for an Aalto (JavaScript) keyCode, or None for a modifier that is dropped."""
    if keycode in AALTO_MODIFIER_KEYCODES:
        return None
    fixed = _AALTO_FIXED.get(keycode)
    if fixed is not None:
        return fixed
    if keycode in AALTO_NAV_KEYCODES:
        return KeyClass.NAV
    return KeyClass.CHAR
