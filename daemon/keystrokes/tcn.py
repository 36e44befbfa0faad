"""The torch model: a causal dilated TCN over key-event sequences with masked pooling.

This module imports torch at the top on purpose; only :mod:`encoder` (lazily) and the training script
import it, so a daemon that never encodes never loads torch.

Why a TCN: keystroke rhythm is local (a few keys of context: digraphs, bursts) with some longer structure
(pauses, corrections). Dilated causal convolutions (Bai, Kolter & Koltun 2018) cover ~60 events of context
with few parameters, train fast on CPU, and stay causal, so a prefix of a prompt gets the same per-event
states as the whole prompt.

Layout: activations stay (batch, time, channels) throughout. A causal convolution is written as the
concatenation of ``kernel_size`` time-shifted copies followed by one Linear (a single GEMM): with 32-64
channels this is faster on CPU than ``nn.Conv1d`` plus the transposes LayerNorm would need, and the
causality is visible in the code (only left padding, only past shifts).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from llmojid.daemon.keystrokes.features import N_FEATURES


@dataclass(frozen=True, slots=True)
class TcnConfig:
    """Architecture hyper-parameters; stored next to the weights so a checkpoint describes itself."""

    in_features: int = N_FEATURES
    channels: int = 32
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    embedding_dim: int = 64
    dropout: float = 0.0
    #: How many TCNs, trained alike from different seeds, make one embedding (see :class:`KeystrokeEnsemble`).
    members: int = 1

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (lists, ints, floats), so the checkpoint loads with ``weights_only=True``."""
        out = asdict(self)
        out["dilations"] = list(self.dilations)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TcnConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (the code and the weights disagree)."""
        values = dict(raw)
        values["dilations"] = tuple(int(d) for d in values["dilations"])
        return cls(**values)

    @property
    def output_dim(self) -> int:
        """Length of the embedding the model gives: the members' embeddings side by side."""
        return self.embedding_dim * self.members

    @property
    def receptive_field(self) -> int:
        """How many events (this one included) one output state can see: two convolutions per block."""
        return 1 + 2 * (self.kernel_size - 1) * sum(self.dilations)


class CausalConv(nn.Module):
    """Dilated causal convolution on (B, T, C): output t sees inputs t, t-d, ..., t-(k-1)d only."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.linear = nn.Linear(c_in * kernel_size, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        pad = (self.kernel_size - 1) * self.dilation
        xp = F.pad(x, (0, 0, pad, 0))  # left-pad the time axis only
        taps = [xp[:, j * self.dilation : j * self.dilation + t] for j in range(self.kernel_size)]
        return self.linear(torch.cat(taps, dim=-1))  # type: ignore[no-any-return]


class TemporalBlock(nn.Module):
    """Two causal dilated convolutions with LayerNorm (per time step: causal-safe) and a residual."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = CausalConv(channels, channels, kernel_size, dilation)
        self.conv2 = CausalConv(channels, channels, kernel_size, dilation)
        self.norm1 = nn.LayerNorm(channels)
        self.norm2 = nn.LayerNorm(channels)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop(F.relu(self.norm1(self.conv1(x))))
        y = self.drop(F.relu(self.norm2(self.conv2(y))))
        out: torch.Tensor = x + y
        return out


class KeystrokeTcn(nn.Module):
    """(B, T, F) event features + (B, T) valid mask -> (B, E) L2-normalised embedding."""

    def __init__(self, config: TcnConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.inp = nn.Linear(config.in_features, c)
        self.blocks = nn.ModuleList(TemporalBlock(c, config.kernel_size, d, config.dropout) for d in config.dilations)
        self.attn = nn.Linear(c, 1)
        self.head = nn.Sequential(nn.Linear(3 * c, 2 * c), nn.ReLU(), nn.Linear(2 * c, config.embedding_dim))

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Per-event hidden states (B, T, C); state t depends only on events 0..t (causal)."""
        h = self.inp(x)
        for block in self.blocks:
            h = block(h)
        return h  # type: ignore[no-any-return]

    def pool(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked mean, masked standard deviation and masked attention pooling, concatenated.

        Why three: the mean is the typist's average state, the deviation how steady it is (rhythm
        variability is itself a strong identity cue), attention lets the model weight telling events.
        """
        m = mask.unsqueeze(-1).to(h.dtype)
        count = m.sum(1).clamp_min(1.0)
        mean = (h * m).sum(1) / count
        var = (((h - mean.unsqueeze(1)) ** 2) * m).sum(1) / count
        std = torch.sqrt(var + 1e-5)
        logits = self.attn(h).squeeze(-1).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(logits, dim=1).nan_to_num(0.0).unsqueeze(-1)
        return torch.cat([mean, std, (h * weights).sum(1)], dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x * mask.unsqueeze(-1).to(x.dtype)
        z = self.head(self.pool(self.sequence(x), mask))
        return F.normalize(z, dim=-1)


class KeystrokeEnsemble(nn.Module):
    """Several TCNs of one config, trained alike from different seeds: their unit embeddings side by side,
    scaled to unit norm. The cosine of two such embeddings is the mean of the members' cosines, so the daemon's
    distance to a centroid is the members' distances averaged: seed noise averages out (on the dev users three
    members erred ~8% less than the best one alone) for a few tenths of a millisecond per window."""

    def __init__(self, config: TcnConfig) -> None:
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(KeystrokeTcn(config) for _ in range(config.members))
        self.scale = float(config.members) ** -0.5

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = torch.cat([member(x, mask) for member in self.members], dim=-1) * self.scale
        return out


def build_model(config: TcnConfig) -> nn.Module:
    """The model a checkpoint's config describes: one TCN, or an ensemble of ``config.members`` of them."""
    return KeystrokeTcn(config) if config.members == 1 else KeystrokeEnsemble(config)
