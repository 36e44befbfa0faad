"""The training objective of the keystroke encoder, against hand-computed cases (real torch, no training run)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmojid.daemon.keystrokes.train import TrainConfig, make_loss


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
