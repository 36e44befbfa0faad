"""Pure keystroke parts: features, windows, dataset parsing, EER, baseline arithmetic, the wrapper's classifier.

No daemon, no torch: these run in milliseconds.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from llmojid.client import protocol as p
from llmojid.client.wrap import PASTE_MIN_KEYS, KeyClassifier
from llmojid.daemon.keystrokes import baseline as bl
from llmojid.daemon.keystrokes import features as f
from llmojid.daemon.keystrokes.data import aalto_split, cmu_events, load_cmu, parse_aalto_text
from llmojid.daemon.keystrokes.evaluate import (
    aalto_eer,
    aalto_scores,
    cmu_splits,
    scaled_manhattan,
    timing_statistics,
)
from llmojid.daemon.keystrokes.verification import bootstrap_intervals, build_trials, eer, eer_point
from llmojid.daemon.keystrokes.windows import (
    InvalidEvents,
    WindowAssembler,
    checked_events,
    source_kind,
)

C, S, B, E, T, N, P = (int(k) for k in p.KeyClass)
KeyEvent = f.KeyEvent


def typed(gaps: list[float], classes: list[int], dwell: float | None = 80.0) -> list[KeyEvent]:
    """Events with the given press-to-press gaps (ms) and classes."""
    out, t = [], 1000.0
    for i, cls in enumerate(classes):
        if i:
            t += gaps[i - 1]
        out.append(KeyEvent(t, None if dwell is None else t + dwell, cls))
    return out


# --- features ----------------------------------------------------------------------------------------
def test_flight_times_clamp_clock_jumps_and_absences() -> None:
    press = np.array([0.0, 100.0, 50.0, 50.0 + 60_000.0])
    flight = f.flight_times(press)
    assert flight.tolist() == [0.0, 100.0, 0.0, f.MAX_GAP_MS]


def test_dwell_unknown_when_release_missing_or_before_press() -> None:
    press = np.array([0.0, 100.0, 200.0, 300.0])
    release = np.array([80.0, math.nan, 150.0, 300.0 + 10 * f.MAX_DWELL_MS])
    dwell, known = f.dwell_times(press, release)
    assert known.tolist() == [True, False, False, True]
    assert dwell.tolist() == [80.0, 0.0, 0.0, f.MAX_DWELL_MS]


def test_up_down_needs_the_previous_release() -> None:
    press = np.array([0.0, 100.0, 200.0])
    release = np.array([150.0, math.nan, 260.0])
    _, known = f.dwell_times(press, release)
    ud, ud_known = f.up_down_times(press, release, known)
    assert ud_known.tolist() == [False, True, False]
    assert ud[1] == -50.0  # rollover: the second key went down before the first came up


def test_event_features_shape_masks_and_one_hot() -> None:
    window = typed([120, 130, 900, 110], [C, S, C, B, E])
    x = f.event_features(window)
    assert x.shape == (5, f.N_FEATURES)
    assert x[:, f.F_DWELL_KNOWN].tolist() == [1, 1, 1, 1, 1]
    assert x[0, f.F_FIRST] == 1 and x[1:, f.F_FIRST].sum() == 0
    assert x[:, f.F_PAUSE].tolist() == [0, 0, 0, 1, 0]  # the 900 ms gap before the 4th key
    assert x[:, f.F_CLASS0 : f.F_CLASS0 + f.N_CLASSES].argmax(1).tolist() == [C, S, C, B, E]
    assert x[-1, f.F_CORRECTION] == pytest.approx(1 / 5)
    assert np.isfinite(x).all()


def test_features_without_releases_mark_dwell_unknown() -> None:
    x = f.event_features(typed([100, 100], [C, C, C], dwell=None))
    assert x[:, f.F_DWELL_KNOWN].sum() == 0 and x[:, f.F_DWELL].sum() == 0
    assert x[:, f.F_UP_DOWN_KNOWN].sum() == 0


def test_features_survive_garbage_times() -> None:
    window = [KeyEvent(math.nan, None, C), KeyEvent(5.0, 1.0, C), KeyEvent(-1e12, math.inf, 99)]
    x = f.event_features(window)
    assert x.shape == (2, f.N_FEATURES) and np.isfinite(x).all()


def test_features_are_causal_per_event() -> None:
    window = typed([100, 250, 90, 1200, 80, 60], [C, C, S, C, B, C, C])
    full = f.event_features(window)
    for k in range(1, len(window)):
        assert np.array_equal(f.event_features(window[:k]), full[:k])


def test_long_windows_keep_their_latest_events() -> None:
    window = typed([100.0] * (f.MAX_WINDOW_EVENTS + 49), [C] * (f.MAX_WINDOW_EVENTS + 50))
    press, _, _ = f.window_arrays(window)
    assert press.size == f.MAX_WINDOW_EVENTS and press[-1] == window[-1].press_ms


def test_split_windows_on_enter_keeps_the_open_tail() -> None:
    events = typed([100] * 6, [C, C, E, C, E, C, C])
    windows = f.split_windows(events)
    assert [len(w) for w in windows] == [3, 2, 2]
    assert [f.window_is_closed(w) for w in windows] == [True, True, False]


def test_rhythm_events_drop_pastes_and_the_closing_enter() -> None:
    events = typed([100] * 4, [C, P, C, S, E])
    assert [e.key_class for e in f.rhythm_events(events)] == [C, C, S]


def test_window_stats() -> None:
    events = typed([100, 100, 1000, 100, 100], [C, C, B, C, P, E])
    st = f.window_stats(events)
    assert st.n_events == 6 and st.pause_count == 1 and st.paste_count == 1
    assert st.median_flight_ms == 100.0 and st.median_dwell_ms == 80.0
    assert st.correction_rate == pytest.approx(1 / 4)  # 1 backspace, 3 characters


# --- window assembly ------------------------------------------------------------------------------
def test_assembler_closes_on_enter_and_keeps_sources_apart() -> None:
    a = WindowAssembler()
    assert a.feed("wrap/1", typed([100], [C, C])) == []
    assert a.feed("wrap/2", typed([100], [C, E])) != []
    closed = a.feed("wrap/1", typed([100, 100], [C, E, C]))
    assert [len(w) for w in closed] == [4]
    assert a.open_count() == 1  # wrap/1 has one key after its Enter


def test_assembler_bounds_memory() -> None:
    a = WindowAssembler(max_sources=2, max_events=10)
    a.feed("a", typed([1.0] * 99, [C] * 100))
    a.feed("b", typed([1.0], [C, C]))
    a.feed("c", typed([1.0], [C, C]))
    assert a.open_count() == 2
    assert [len(w) for w in a.feed("a", typed([], [E]))] == [1]  # "a" was forgotten, not merged


def test_checked_events_refuse_non_timing() -> None:
    assert checked_events([(1.0, None, C), (2.0, 3.0, E)])[1] == KeyEvent(2.0, 3.0, E)
    for bad in [(math.nan, None, C), (1.0, math.inf, C), (1.0, None, 7), (1.0, None, -1)]:
        with pytest.raises(InvalidEvents):
            checked_events([bad])


def test_source_kind_stores_no_session_token() -> None:
    assert source_kind("wrap/4f2a9c1e") == "wrap"
    assert source_kind("vim-plugin") == "vim-plugin"
    assert source_kind("Evil Name/x") == "other"
    assert source_kind("x" * 100) == "other"


# --- the wrapper's classifier ---------------------------------------------------------------------
def classes(chunks: list[bytes]) -> list[int]:
    k = KeyClassifier()
    return [e.key_class for chunk in chunks for e in k.feed(chunk, 0.0)]


def test_classifier_key_classes() -> None:
    assert classes([b"a", b" ", b"\x7f", b"\r", b"\t", b"\x1b[A", b"\x1b[3~", b"\x03", b"\x1bOP"]) == [
        C, S, B, E, T, N, B, N, N,
    ]  # fmt: skip


def test_classifier_counts_characters_not_bytes() -> None:
    assert classes(["é".encode(), "字".encode(), "🙂".encode()]) == [C, C, C]


def test_classifier_small_chunk_is_several_keys_big_chunk_is_a_paste() -> None:
    assert classes([b"ab\r"]) == [C, C, E]
    assert classes([b"x" * (PASTE_MIN_KEYS + 1)]) == [P]
    assert classes([b"pasted line\r"]) == [P, E]  # a pasted newline still submits the prompt


def test_classifier_bracketed_paste_is_one_event_even_across_reads() -> None:
    assert classes([b"a\x1b[200~hello", b" world\nmore", b"\x1b[201~b\r"]) == [C, P, C, E]


def test_classifier_events_carry_only_time_and_class() -> None:
    events = KeyClassifier().feed(b"secret\r", 12.5)
    assert {(e.press_ms, e.release_ms) for e in events} == {(12.5, None)}
    assert all(set(p.KeyEvent.__struct_fields__) == {"press_ms", "release_ms", "key_class"} for e in events)


# --- datasets ---------------------------------------------------------------------------------------
AALTO_HEADER = (
    "PARTICIPANT_ID\tTEST_SECTION_ID\tSENTENCE\tUSER_INPUT\tKEYSTROKE_ID\tPRESS_TIME\tRELEASE_TIME\tLETTER\tKEYCODE"
)


def aalto_row(section: int, kid: int, press: str, release: str, code: str) -> str:
    return f"7\t{section}\tThe sentence.\tThe sentence.\t{kid}\t{press}\t{release}\tx\t{code}"


def test_parse_aalto_skips_bad_rows_and_modifiers_and_sorts_by_time() -> None:
    text = "\n".join(
        [
            AALTO_HEADER,
            aalto_row(1, 3, "1200", "1290", "69"),
            aalto_row(1, 1, "1000", "1100", "16"),  # shift: dropped
            aalto_row(1, 2, "1050", "1120", "84"),
            aalto_row(1, 4, "1300.5", "1400", "72"),  # non-integer: dropped
            aalto_row(1, 5, "1500", "1400", "32"),  # release before press: dropped
            aalto_row(1, 6, "1600", "1650", "8"),
            "7\t1\ttoo\tfew\tfields",
            aalto_row(2, 7, "5000", "5080", "32"),
        ]
    )
    sentences = parse_aalto_text(text)
    assert [[e.key_class for e in s] for s in sentences] == [[C, C, B], [S]]
    assert [e.press_ms for e in sentences[0]] == [0.0, 150.0, 550.0]  # relative to the sentence start
    assert sentences[0][0].release_ms == 70.0


def test_aalto_split_is_stable_and_roughly_proportional() -> None:
    counts = {"train": 0, "dev": 0, "eval": 0}
    for pid in range(5000):
        counts[aalto_split(pid)] += 1
    assert aalto_split(1002) == aalto_split(1002)
    assert 0.15 < counts["eval"] / 5000 < 0.25 and 0.06 < counts["dev"] / 5000 < 0.14


def write_cmu(path: object, subjects: int = 3) -> None:
    from pathlib import Path

    from llmojid.daemon.keystrokes.data import CMU_KEYS

    cols = [f"H.{k}" for k in CMU_KEYS]
    for a, b in itertools.pairwise(CMU_KEYS):
        cols += [f"DD.{a}.{b}", f"UD.{a}.{b}"]
    rng = np.random.default_rng(0)
    lines = ["subject,sessionIndex,rep," + ",".join(cols)]
    for s in range(subjects):
        for session in range(1, 9):
            for rep in range(1, 51):
                values = rng.uniform(0.05, 0.3, len(cols))
                lines.append(f"s{s:03d},{session},{rep}," + ",".join(f"{v:.4f}" for v in values))
    Path(str(path)).write_text("\r\n".join(lines) + "\r\n")


def test_cmu_protocol_index_sets(tmp_path: object) -> None:
    from pathlib import Path

    csv = Path(str(tmp_path)) / "cmu.csv"
    write_cmu(csv)
    data = load_cmu(csv)
    splits = cmu_splits(data)
    assert len(splits) == 3
    for sp in splits:
        assert sp.enroll.size == 200 and sp.genuine.size == 200 and sp.impostor.size == 2 * 5
        assert set(data.session[sp.enroll]) == {1, 2, 3, 4} and set(data.session[sp.genuine]) == {5, 6, 7, 8}
        assert set(data.session[sp.impostor]) == {1} and data.rep[sp.impostor].max() == 5
        assert sp.subject not in {data.subjects[i] for i in sp.impostor}
    events = cmu_events(data, 0)
    assert len(events) == 11 and events[-1].key_class == E
    assert all(b.press_ms >= a.press_ms for a, b in itertools.pairwise(events))


# --- metrics ------------------------------------------------------------------------------------------
def test_eer_separable_and_overlapping() -> None:
    assert eer(np.array([0.1, 0.2, 0.3]), np.array([0.7, 0.8, 0.9])) == 0.0
    assert eer(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == pytest.approx(0.5)
    rng = np.random.default_rng(1)
    g, i = rng.normal(0, 1, 4000), rng.normal(2, 1, 4000)
    value, threshold = eer_point(g, i)
    assert value == pytest.approx(0.1587, abs=0.015)  # Phi(-1): two unit normals two apart
    assert threshold == pytest.approx(1.0, abs=0.1)


def test_scaled_manhattan_scales_by_mean_absolute_deviation() -> None:
    train = np.array([[0.0, 10.0], [2.0, 30.0]])
    assert scaled_manhattan(train, np.array([[1.0, 20.0], [3.0, 20.0]])).tolist() == [0.0, 2.0]


def test_aalto_scores_count_genuine_and_impostor_trials() -> None:
    rng = np.random.default_rng(2)
    users = [rng.normal(size=(7, 4)) for _ in range(3)]
    users = [u / np.linalg.norm(u, axis=1, keepdims=True) for u in users]
    genuine, impostor = aalto_scores(users, enroll=5)
    assert genuine.size == 3 * 2 and impostor.size == 3 * 2 * 2


def test_aalto_bootstrap_interval_brackets_the_eer() -> None:
    rng = np.random.default_rng(3)
    users = []
    for _ in range(30):
        centre = rng.normal(size=8)
        u = centre + rng.normal(scale=0.9, size=(8, 8))
        users.append(u / np.linalg.norm(u, axis=1, keepdims=True))
    (low, high), (u_low, u_high) = bootstrap_intervals(build_trials(users, 5, 5), reps=50)
    assert 0.0 < low <= aalto_eer(users, 5) <= high < 0.5
    assert 0.0 <= u_low <= u_high < 0.5


def test_timing_statistics_work_without_releases() -> None:
    vec = timing_statistics(typed([100, 120, 140], [C, C, C, E], dwell=None))
    assert vec.shape == (16,) and np.isfinite(vec).all()


# --- baseline -----------------------------------------------------------------------------------------
def unit(v: list[float]) -> np.ndarray:
    a = np.array(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def test_baseline_enrols_then_scores_flags_and_updates_slowly() -> None:
    b = None
    for _ in range(bl.ENROLL_WINDOWS):
        out = bl.observe(b, unit([1, 0.1, 0]), threshold=0.3)
        assert out.enrolled_now and out.deviation is None and not out.flagged
        b = out.baseline
    assert b is not None and b.enrolled
    same = bl.observe(b, unit([1, 0.12, 0]), threshold=0.3)
    assert not same.flagged and same.deviation is not None and same.deviation < 0.01
    other = bl.observe(same.baseline, unit([0, 0, 1]), threshold=0.3)
    assert other.flagged and other.deviation == pytest.approx(1.0, abs=1e-3)
    assert np.array_equal(other.baseline.mean, same.baseline.mean)  # a flagged window does not move it
    z = unit([1, 0.3, 0])
    moved = bl.observe(b, z, threshold=0.3).baseline
    # the baseline keeps growing as a running mean: the 6th window weighs 1/6 ...
    assert np.allclose(moved.mean, (5 * b.mean + z) / 6, atol=1e-6) and moved.count == 6
    # ... and once it holds GROW_UNTIL windows, each new one weighs UPDATE_RATE
    grown = bl.Baseline(b.mean, bl.GROW_UNTIL)
    late = bl.observe(grown, z, threshold=0.3).baseline
    assert np.allclose(late.mean, (1 - bl.UPDATE_RATE) * b.mean + bl.UPDATE_RATE * z, atol=1e-6)


def test_sustained_deviation_needs_three_scored_windows() -> None:
    assert bl.sustained_deviation([0.1, 0.2]) is None
    assert bl.sustained_deviation([0.9, 0.1, 0.2, 0.3]) == pytest.approx(0.2)  # the newest three only


def test_baseline_round_trips_through_bytes() -> None:
    b = bl.Baseline(unit([0.3, 0.4, 0.5]), 7)
    again = bl.Baseline.from_bytes(b.to_bytes())
    assert again.count == 7 and np.array_equal(again.mean, b.mean)
    with pytest.raises(ValueError):
        bl.Baseline.from_bytes(b"\x00" * 5)


def test_thresholds_pick_the_regime_of_the_window() -> None:
    t = bl.Thresholds(with_release=0.2, press_only=0.4, sustained_with_release=0.1, sustained_press_only=0.3)
    assert t.for_window(1.0) == 0.2 and t.for_window(0.0) == 0.4
    assert t.sustained_for_window(1.0) == 0.1 and t.sustained_for_window(0.0) == 0.3


def test_link_turn_takes_the_latest_window_before_the_turn() -> None:
    windows = [100.0, 200.0, 300.0]
    assert bl.link_turn(250.0, windows) == 1
    assert bl.link_turn(300.0, windows) == 2
    assert bl.link_turn(50.0, windows) is None
    assert bl.link_turn(300.0 + bl.MAX_LINK_SECONDS + 1, windows) is None
    assert bl.parse_ts("2026-01-01T00:00:01Z") - bl.parse_ts("2026-01-01T00:00:00+00:00") == 1.0
