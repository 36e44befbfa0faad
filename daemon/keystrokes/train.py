"""Train the keystroke TCN on the Aalto subset with a metric-learning objective that separates typists.

    python -m llmojid.daemon.keystrokes.train --aalto-tar ../shared/datasets/aalto_136m_subset/\\
        aalto_136m_keystrokes_train.tar.gz [--out PATH] [--seed 0] [--steps N] [--threads 1]

Reproducible: every random source is seeded from ``--seed``, the full config is printed and saved in a JSON
card next to the weights, the number of steps is fixed (no wall-clock stopping), and the user-disjoint split
is the hash rule in :func:`data.aalto_split` (~70% train, ~10% dev for the printed progress, ~20% held out
for evaluate.py, never read here). The default run trains three members of 9,000 steps each (seeds 0, 1, 2;
about 12 minutes of one CPU core each) and joins them into the shipped ensemble (v3.1). Every choice was made on
the dev users (single-window global EER with releases / press only, enrolment 5):

    v2: supervised contrastive, 32 users x 4 windows, 4,500 steps        0.0771 / 0.1290
    GE2E, 24 users x 6 windows, 4,500 steps                               0.0664 / 0.1269
    GE2E, 16 users x 8 windows, 4,500 steps                               0.0668 / 0.1284
    GE2E, 24 x 6, 48 channels, 4,500 steps                                0.0643 / 0.1278
    GE2E, 24 x 6, 9,000 steps, seed 0                                      0.0577 / 0.1226
    the same, seed 1                                                      0.0635 / 0.1313
    seeds 0 + 1 joined                                                    0.0571 / 0.1186
    seeds 0 + 1 + the 18,000-step run joined                              0.0531 / 0.1138
    GE2E, 24 x 6, 48 channels, 12,000 steps                               0.0648 / 0.1332
    GE2E, 24 x 6, 18,000 steps                                            0.0628 / 0.1285
    GE2E, 24 x 6, 9,000 steps, releases always hidden (a press-only model) -     / 0.1306
    v3: GE2E, 24 x 6, 9,000 steps, seeds 0 + 1 + 2 joined                 0.0558 / 0.1144
    4,500 steps, seed 0 / 1: one release view per typist in a batch       0.0507 / 0.1257, 0.0531 / 0.1277
      (release_view="user") against one per window (v3), same run         0.0664 / 0.1269, 0.0668 / 0.1273
    4,500 steps: flights normalised per key-class pair (training users)   0.0658 / 0.1265 (dropped)
    4,500 steps: log-normal jitter on press-to-press intervals            0.0642 / 0.1291 (dropped)
    release_view="user", 9,000 steps, seeds 0 / 1 / 2                     0.0495 / 0.1173, 0.0480 / 0.1205,
                                                                          0.0500 / 0.1231
    v3.1: those three joined (the default)                                0.0439 / 0.1147, see weights/encoder.json

An ensemble's embedding is its members' unit embeddings side by side, scaled to unit norm
(:class:`tcn.KeystrokeEnsemble`): its cosine is the mean of the members' cosines.

Objective (default ``ge2e``): batches of P users x K sentence windows; the generalized end-to-end loss (Wan et
al. 2018) scores every window against every user's centroid in the batch (its own user's without it) with a
learnt scale and bias, and asks the own centroid to win: exactly the daemon's decision, distance to the centroid
of a few enrolment windows, made the training objective. ``supcon`` (supervised contrastive, Khosla et al.
2020: every other window of the same typist a positive) trained v1 and v2; ``amsoftmax`` (additive-margin
softmax over the training users, Wang et al. 2018) is the third choice.

Augmentation: windows of up to ``max_len`` keystrokes cropped at random (TypeNet used 50); with probability
``drop_release_p`` all release times are hidden, because the pty wrapper never sees key releases and the
same encoder must work with and without them. The draw is made once per typist in a batch (``release_view``
"user"), so each GE2E centroid is built from one view and a window is never pulled toward a centroid of the
other view: that alone moved the dev EER with releases from 0.066 to 0.051 at 4,500 steps (press only unchanged).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from llmojid.daemon.keystrokes.data import aalto_split, iter_aalto_dir, iter_aalto_tar, load_aalto
from llmojid.daemon.keystrokes.encoder import WEIGHTS_PATH, file_sha256
from llmojid.daemon.keystrokes.features import (
    KeyEvent,
    features_from_arrays,
    rhythm_events,
    stack_features,
    window_arrays,
)

if TYPE_CHECKING:
    import torch

    from llmojid.daemon.keystrokes.tcn import KeystrokeTcn, TcnConfig

Arrays = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything that determines a training run (printed at start, saved next to the weights)."""

    seed: int = 0
    steps: int = 9000
    users_per_batch: int = 24
    windows_per_user: int = 6
    lr: float = 3e-3
    weight_decay: float = 1e-4
    loss: str = "ge2e"
    temperature: float = 0.07
    margin: float = 0.25
    scale: float = 30.0
    max_len: int = 70
    min_crop_fraction: float = 0.7
    drop_release_p: float = 0.5
    #: "user" (v3.1): one draw per user in the batch, so a user's windows, and so its GE2E centroid, are all one
    #: view and the loss compares like with like; "window" (v3): each crop hid its releases on its own.
    release_view: str = "user"
    channels: int = 32
    embedding_dim: int = 64
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    dropout: float = 0.0
    members: int = 3
    threads: int = 1
    eval_every: int = 250
    enroll: int = 5

    def __post_init__(self) -> None:
        if self.release_view not in ("user", "window"):
            raise ValueError(f"unknown release_view {self.release_view!r} (choose user or window)")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def to_arrays(users: dict[int, list[list[KeyEvent]]]) -> list[list[Arrays]]:
    """Per user, per sentence (press, release, class) arrays, users sorted by id (deterministic)."""
    out: list[list[Arrays]] = []
    for pid in sorted(users):
        sents = [window_arrays(rhythm_events(s)) for s in users[pid]]
        sents = [a for a in sents if a[0].size >= 2]
        if len(sents) >= 2:
            out.append(sents)
    return out


def crop(arr: Arrays, cfg: TrainConfig, rng: np.random.Generator, hide: bool | None = None) -> npt.NDArray[np.float32]:
    """A random contiguous crop of one sentence, turned into event features (maybe without releases).

    ``hide`` (release_view="user") decides the view for the crop. The crop's own draw is made either way, so a
    release_view="window" run draws exactly as v3's recipe did and reproduces its weights."""
    press, release, cls = arr
    n = press.size
    top = min(n, cfg.max_len)
    lo = min(top, max(2, int(np.ceil(cfg.min_crop_fraction * top))))
    length = int(rng.integers(lo, top + 1))
    start = int(rng.integers(0, n - length + 1))
    sl = slice(start, start + length)
    rel = release[sl]
    drawn = rng.random() < cfg.drop_release_p
    if drawn if hide is None else hide:
        rel = np.full_like(rel, np.nan)
    return features_from_arrays(press[sl] - press[start], rel - press[start], cls[sl])


def sample_batch(
    data: list[list[Arrays]], cfg: TrainConfig, rng: np.random.Generator
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """P users x K distinct sentences each, cropped; returns x, mask, user labels (index into data)."""
    users = rng.choice(len(data), size=cfg.users_per_batch, replace=False)
    feats: list[npt.NDArray[np.float32]] = []
    labels: list[int] = []
    for u in users:
        sents = data[int(u)]
        hide = bool(rng.random() < cfg.drop_release_p) if cfg.release_view == "user" else None
        pick = rng.choice(len(sents), size=min(cfg.windows_per_user, len(sents)), replace=False)
        for s in pick:
            feats.append(crop(sents[int(s)], cfg, rng, hide))
            labels.append(int(u))
    x, mask = stack_features(feats)
    return x, mask, np.array(labels, dtype=np.int64)


def embed_arrays(
    model: torch.nn.Module, data: list[list[Arrays]], *, releases: bool = True
) -> list[npt.NDArray[np.float64]]:
    """Embed every full sentence of every user (eval mode, no augmentation); one matrix per user."""
    import torch

    out: list[npt.NDArray[np.float64]] = []
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for sents in data:
            feats = [
                features_from_arrays(p - p[0], (r if releases else np.full_like(r, np.nan)) - p[0], c)
                for p, r, c in sents
            ]
            x, mask = stack_features(feats)
            z = model(torch.from_numpy(x), torch.from_numpy(mask))
            out.append(z.numpy().astype(np.float64))
    model.train(was_training)
    return out


def dev_eer(model: torch.nn.Module, dev: list[list[Arrays]], enroll: int, *, releases: bool = True) -> float:
    """Aalto-protocol EER on the dev users (never the held-out evaluation users)."""
    from llmojid.daemon.keystrokes.evaluate import aalto_eer

    return aalto_eer(embed_arrays(model, dev, releases=releases), enroll)


def make_loss(cfg: TrainConfig, n_classes: int) -> torch.nn.Module:
    """The metric-learning objective as a torch module: (embeddings, labels) -> scalar loss."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class SupCon(nn.Module):
        """Supervised contrastive loss (Khosla et al. 2020) over one batch."""

        def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            sim = z @ z.T / cfg.temperature
            eye = torch.eye(len(y), dtype=torch.bool)
            sim = sim.masked_fill(eye, float("-inf"))
            log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
            pos = (y[:, None] == y[None, :]) & ~eye
            per_anchor = -(log_prob.masked_fill(~pos, 0.0).sum(1)) / pos.sum(1).clamp_min(1)
            return per_anchor.mean()

    class AmSoftmax(nn.Module):
        """Additive-margin softmax over the training users (Wang et al. 2018)."""

        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(n_classes, cfg.embedding_dim) * 0.01)

        def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            cos = z @ F.normalize(self.w, dim=1).T
            cos = cos - cfg.margin * F.one_hot(y, n_classes).to(cos.dtype)
            return F.cross_entropy(cfg.scale * cos, y)

    class Ge2e(nn.Module):
        """Generalized end-to-end loss (Wan et al. 2018): each window against every user's centroid of the
        batch, its own user's centroid computed without it. This is the daemon's decision (distance to the
        centroid of a few enrolment windows) turned into the training objective; scale and bias are learnt."""

        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.tensor(10.0))
            self.b = nn.Parameter(torch.tensor(-5.0))

        def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            users, inverse = torch.unique(y, return_inverse=True)
            onehot = F.one_hot(inverse, len(users)).to(z.dtype)  # (N, U)
            sums = onehot.T @ z  # (U, E)
            counts = onehot.sum(0)  # (U,)
            centroids = F.normalize(sums / counts[:, None], dim=1)
            own = F.normalize((sums[inverse] - z) / (counts[inverse] - 1).clamp_min(1)[:, None], dim=1)
            cos = z @ centroids.T
            cos_own = (z * own).sum(1)
            cos = torch.where(onehot.bool(), cos_own[:, None].expand_as(cos), cos)
            logits = self.w.clamp_min(1e-3) * cos + self.b
            return F.cross_entropy(logits, inverse)

    if cfg.loss == "supcon":
        return SupCon()
    if cfg.loss == "ge2e":
        return Ge2e()
    if cfg.loss == "amsoftmax":
        return AmSoftmax()
    raise ValueError(f"unknown loss {cfg.loss!r} (choose supcon, ge2e or amsoftmax)")


def tcn_config(cfg: TrainConfig, members: int = 1) -> TcnConfig:
    """The architecture a training config asks for (one member, or the whole ensemble)."""
    from llmojid.daemon.keystrokes.tcn import TcnConfig

    return TcnConfig(
        channels=cfg.channels,
        embedding_dim=cfg.embedding_dim,
        dilations=cfg.dilations,
        dropout=cfg.dropout,
        members=members,
    )


def train(
    cfg: TrainConfig, train_data: list[list[Arrays]], dev_data: list[list[Arrays]]
) -> tuple[torch.nn.Module, dict[str, float]]:
    """Train ``cfg.members`` TCNs (seeds ``cfg.seed``, ``cfg.seed + 1``, ...) and join them into one model."""
    members = [train_member(cfg, cfg.seed + i, train_data, dev_data)[0] for i in range(cfg.members)]
    if len(members) == 1:
        model: torch.nn.Module = members[0]
    else:
        model = join_members(members, tcn_config(cfg, len(members)))
    final = {
        "dev_eer": dev_eer(model, dev_data, cfg.enroll),
        "dev_eer_press_only": dev_eer(model, dev_data, cfg.enroll, releases=False),
    }
    print(f"{len(members)} member(s): dev EER {final['dev_eer']:.4f} (press only {final['dev_eer_press_only']:.4f})")
    return model, final


def join_members(members: Sequence[torch.nn.Module], config: TcnConfig) -> torch.nn.Module:
    """One :class:`tcn.KeystrokeEnsemble` holding the trained members' weights, in eval mode."""
    from llmojid.daemon.keystrokes.tcn import KeystrokeEnsemble

    model = KeystrokeEnsemble(config)
    for slot, member in zip(model.members, members, strict=True):
        slot.load_state_dict(member.state_dict())
    return model.eval()


def train_member(
    cfg: TrainConfig, seed: int, train_data: list[list[Arrays]], dev_data: list[list[Arrays]]
) -> tuple[KeystrokeTcn, dict[str, float]]:
    """Run the fixed number of steps from ``seed``; returns the model (eval mode) and its final dev EERs."""
    import torch

    from llmojid.daemon.keystrokes.tcn import KeystrokeTcn

    torch.set_num_threads(cfg.threads)
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    model = KeystrokeTcn(tcn_config(cfg))
    loss_fn = make_loss(cfg, len(train_data))
    params = list(model.parameters()) + list(loss_fn.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    t0 = time.monotonic()
    running = 0.0
    model.train()
    for step in range(1, cfg.steps + 1):
        x, mask, y = sample_batch(train_data, cfg, rng)
        z = model(torch.from_numpy(x), torch.from_numpy(mask))
        loss = loss_fn(z, torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        value = float(loss.detach())
        running = 0.95 * running + 0.05 * value if step > 1 else value
        if step % cfg.eval_every == 0 and step < cfg.steps:
            d = dev_eer(model, dev_data, cfg.enroll)
            print(f"step {step:5d}  loss {running:.4f}  dev EER {d:.4f}  {time.monotonic() - t0:6.1f} s", flush=True)
    model.eval()
    final = {
        "dev_eer": dev_eer(model, dev_data, cfg.enroll),
        "dev_eer_press_only": dev_eer(model, dev_data, cfg.enroll, releases=False),
    }
    print(
        f"step {cfg.steps:5d}  loss {running:.4f}  dev EER {final['dev_eer']:.4f} "
        f"(press only {final['dev_eer_press_only']:.4f})  {time.monotonic() - t0:6.1f} s",
        flush=True,
    )
    return model, final


def save(model: torch.nn.Module, cfg: TrainConfig, out: Path, dev: dict[str, float], data_note: str) -> str:
    """Write the checkpoint (config + state_dict: loadable with weights_only=True) and a JSON card.

    Returns the file's SHA-256, which must be copied into ``encoder.WEIGHTS_SHA256`` for a shipped file.
    """
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    tcn_cfg = tcn_config(cfg, cfg.members).to_dict()
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    torch.save({"config": tcn_cfg, "state_dict": state}, out)
    digest = file_sha256(out)
    card: dict[str, Any] = {
        "sha256": digest,
        "tcn": tcn_cfg,
        "train": {**asdict(cfg), "dilations": list(cfg.dilations)},
        **{k: round(v, 4) for k, v in dev.items()},
        "data": data_note,
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    return digest


def _parse(argv: Sequence[str] | None) -> tuple[argparse.Namespace, TrainConfig]:
    parser = argparse.ArgumentParser(prog="python -m llmojid.daemon.keystrokes.train")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--aalto-tar", type=Path, help="aalto_136m_keystrokes_train.tar.gz")
    src.add_argument("--aalto-dir", type=Path, help="a folder of <id>_keystrokes.txt files")
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH, help="checkpoint path (default: shipped)")
    for f in fields(TrainConfig):
        flag = f"--{f.name.replace('_', '-')}"
        if f.name == "dilations":
            parser.add_argument(flag, type=int, nargs="+", default=list(TrainConfig().dilations))
        else:
            parser.add_argument(flag, type=type(f.default), default=f.default)
    args = parser.parse_args(argv)
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig)}
    values["dilations"] = tuple(values["dilations"])
    return args, TrainConfig(**values)


def main(argv: Sequence[str] | None = None) -> int:
    args, cfg = _parse(argv)
    print(f"config: {cfg}", flush=True)
    t0 = time.monotonic()
    source = iter_aalto_tar(args.aalto_tar) if args.aalto_tar else iter_aalto_dir(args.aalto_dir)
    users = load_aalto(source, splits=frozenset({"train", "dev"}))
    train_data = to_arrays({k: v for k, v in users.items() if aalto_split(k) == "train"})
    dev_data = to_arrays({k: v for k, v in users.items() if aalto_split(k) == "dev"})
    print(f"users: train {len(train_data)}, dev {len(dev_data)} ({time.monotonic() - t0:.1f} s to load)", flush=True)
    model, dev = train(cfg, train_data, dev_data)
    note = f"Aalto 136M desktop subset: {len(train_data)} users of split=train (data.aalto_split)"
    digest = save(model, cfg, args.out, dev, note)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) in {time.monotonic() - t0:.0f} s")
    print(f"sha256 {digest}  (set WEIGHTS_SHA256 in encoder.py if this is the shipped file)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
