"""The training objective of the keystroke encoder, against hand-computed cases (real torch, no training run)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from llmojid.daemon.keystrokes.features import F_DWELL_KNOWN
from llmojid.daemon.keystrokes.train import TrainConfig, make_loss, sample_batch


def value(loss_fn: torch.nn.Module, z: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(loss_fn(z, y))


def test_ge2e_scores_each_window_against_its_own_centroid_without_itself() -> None:
    """Two users, two windows each, in a plane: a window's own-user centroid is the OTHER window of that user."""
    loss_fn = make_loss(TrainConfig(loss="ge2e"), n_classes=2)
    angles = torch.tensor([0.0, 1.0, 1.3, 2.6], dtype=torch.float64)
    z = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    y = torch.tensor([7, 7, 3, 3])  # labels need not be 0..U-1
    w, b = 10.0, -5.0
    centroid = {u: F.normalize(z[y == u].mean(0), dim=0) for u in (3, 7)}
    expected = 0.0
    for i in range(4):
        own = int(y[i])
        other_window = z[(y == own) & (torch.arange(4) != i)][0]
        logit_own = w * float(z[i] @ other_window) + b
        logit_other = w * float(z[i] @ centroid[10 - own]) + b
        expected += -logit_own + math.log(math.exp(logit_own) + math.exp(logit_other))
    assert value(loss_fn, z, y) == pytest.approx(expected / 4, rel=1e-5)


def test_ge2e_is_near_zero_when_users_are_far_apart_and_large_when_they_are_swapped() -> None:
    loss_fn = make_loss(TrainConfig(loss="ge2e"), n_classes=3)
    z = torch.eye(3, dtype=torch.float64).repeat_interleave(2, dim=0)  # user u's two windows both point along axis u
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    separated = value(loss_fn, z, y)
    assert separated == pytest.approx(math.log(1 + 2 * math.exp(-10.0)), rel=1e-4)
    assert value(loss_fn, z, torch.tensor([0, 1, 1, 2, 2, 0])) > 5.0, "mixed-up labels must cost a lot"


def test_unknown_loss_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss(TrainConfig(loss="triplet-ish"), n_classes=2)


def _typists(n_users: int, n_sentences: int) -> list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Synthetic typists: 30 keys per sentence, every release known (so a hidden view is visible in the features)."""
    rng = np.random.default_rng(7)
    users = []
    for _ in range(n_users):
        sentences = []
        for _ in range(n_sentences):
            press = np.cumsum(rng.uniform(80, 300, 30))
            sentences.append((press, press + rng.uniform(50, 120, 30), rng.integers(0, 3, 30)))
        users.append(sentences)
    return users


def _release_views(release_view: str) -> list[set[bool]]:
    """For each typist in one sampled batch: the set of views (releases known or not) its windows got."""
    cfg = TrainConfig(users_per_batch=8, windows_per_user=4, drop_release_p=0.5, release_view=release_view)
    x, _mask, labels = sample_batch(_typists(8, 6), cfg, np.random.default_rng(3))
    known = x[:, :, F_DWELL_KNOWN].sum(axis=1) > 0
    return [{bool(k) for k in known[labels == u]} for u in np.unique(labels)]


def test_user_release_view_gives_all_of_a_typists_windows_one_view() -> None:
    """release_view="user" (v3.1): one draw per typist in the batch, so its GE2E centroid is made of one view."""
    views = _release_views("user")
    assert all(len(v) == 1 for v in views)
    assert {next(iter(v)) for v in views} == {True, False}, "both views still occur across typists"


def test_window_release_view_mixes_views_inside_a_typist() -> None:
    assert any(len(v) == 2 for v in _release_views("window"))


def test_unknown_release_view_is_refused() -> None:
    with pytest.raises(ValueError, match="release_view"):
        TrainConfig(release_view="sometimes")
