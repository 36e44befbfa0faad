"""The evaluation's error rates against small cases worked out by hand (pure numpy, no encoder)."""

from __future__ import annotations

import numpy as np
import pytest

from llmojid.daemon.keystrokes.evaluate import aalto_table, logistic_background
from llmojid.daemon.keystrokes.verification import Trials, build_trials, eer, frr_at_far, rates


def test_global_eer_of_interleaved_scores() -> None:
    # genuine 1,2,3,4 vs impostor 3.5,5,6,7: one impostor (3.5) sits below one genuine (4).
    # Cutoff 4: rejects genuine 4 (FRR 1/4) and accepts impostor 3.5 (FAR 1/4): the rates cross at 0.25.
    assert eer(np.array([1.0, 2.0, 3.0, 4.0]), np.array([3.5, 5.0, 6.0, 7.0])) == pytest.approx(0.25)


def test_frr_at_one_percent_far_by_hand() -> None:
    impostor = np.arange(100, 200, dtype=np.float64)  # 100 impostor scores 100..199
    # FAR <= 1 %: at most one impostor below the threshold -> threshold = the 2nd smallest (101)
    genuine = np.array([10.0, 100.5, 101.0, 150.0])
    assert frr_at_far(genuine, impostor) == pytest.approx(2 / 4)  # 101 and 150 are rejected
    assert frr_at_far(np.array([1.0, 2.0]), impostor) == 0.0


def test_per_user_eer_differs_from_global_when_scales_differ() -> None:
    # Two claimed users (columns), each perfectly separable with a threshold of its own, on different
    # scales: user 0's genuine trials score 0.45 (impostors 0.6), user 1's score 0.1 (impostors 0.3).
    dist = np.array(
        [
            [0.45, 0.3],  # typed by user 0
            [0.45, 0.3],
            [0.6, 0.1],  # typed by user 1
            [0.6, 0.1],
        ]
    )
    trials = Trials(dist, np.array([0, 0, 1, 1]))
    assert trials.per_user_eers().tolist() == [0.0, 0.0]
    genuine, impostor = trials.global_scores()
    assert sorted(genuine.tolist()) == [0.1, 0.1, 0.45, 0.45]
    assert sorted(impostor.tolist()) == [0.3, 0.3, 0.6, 0.6]
    r = rates(trials)
    assert r.user_eer == 0.0
    assert r.global_eer > 0.2  # one threshold cannot serve both scales
    assert r.frr_at_far == 0.5  # below 1 % FAR the threshold is 0.3: both 0.45 trials rejected


def test_fused_trials_average_consecutive_windows() -> None:
    e = np.eye(3)
    # user 0 enrols on e0; its tests are e0, e1, e0, e1 -> distances to centroid 0: 0, 1, 0, 1
    u0 = np.stack([e[0], e[0], e[1], e[0], e[1]])
    u1 = np.stack([e[2], e[2], e[2], e[2], e[2]])
    single = build_trials([u0, u1], enroll=1, test_from=1, fuse=1)
    fused = build_trials([u0, u1], enroll=1, test_from=1, fuse=2)
    assert single.dist[:4, 0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert fused.dist[:2, 0].tolist() == [0.5, 0.5]  # (0 + 1) / 2 twice
    assert fused.owner.tolist() == [0, 0, 1, 1]


def test_every_enrolment_size_is_tried_on_the_same_test_windows() -> None:
    rng = np.random.default_rng(5)
    users = []
    for _ in range(12):
        u = rng.normal(size=6) + rng.normal(scale=0.7, size=(12, 6))
        users.append(u / np.linalg.norm(u, axis=1, keepdims=True))
    rows = aalto_table(users, "press + release", (1, 3, 5))
    assert [(r.enroll, r.fuse) for r in rows] == [(1, 1), (3, 1), (5, 1), (1, 3), (3, 3), (5, 3)]
    by = {(r.enroll, r.fuse): r.rates for r in rows}
    assert by[(5, 1)].global_eer <= by[(1, 1)].global_eer  # a bigger enrolment helps on the same tests
    assert by[(5, 3)].global_eer <= by[(5, 1)].global_eer  # so does a decision over three windows


def test_build_trials_refuses_users_without_enough_windows() -> None:
    short = np.ones((5, 2)) / np.sqrt(2)
    with pytest.raises(ValueError):
        build_trials([short, short], enroll=5, test_from=5, fuse=1)


def test_logistic_background_prefers_the_enrolled_subject() -> None:
    rng = np.random.default_rng(7)
    own = rng.normal(0.0, 1.0, size=(80, 4))
    others = rng.normal(3.0, 1.0, size=(200, 4))
    scores = logistic_background(own, others, np.vstack([own[:5], others[:5]]))
    assert scores[:5].max() < scores[5:].min()
