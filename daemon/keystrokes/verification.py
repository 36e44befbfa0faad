"""Verification error rates for distance scores (pure numpy; no torch, no I/O).

A *score* is a distance (higher = more likely someone else); a trial is accepted when its score is below the
threshold. Two ways of reporting an equal error rate are in use and they answer different questions:

- **global EER**: one threshold for everybody (what a product with one shipped threshold gets);
- **per-user EER, averaged**: a threshold for each claimed user (the protocol TypeNet, TypeFormer and the KVC
  challenge report); it is never higher than what one global threshold reaches on the same scores, often much
  lower, because users' score scales differ.

Plus the false rejection rate at 1 % false acceptance (one global threshold), the operating point a
"someone else at the keyboard" flag cares about.

Trials are built from per-user embedding matrices (windows x dim, in typing order): the first ``enroll`` rows
of a user enrol (their normalised mean is the centroid, as in the daemon), the test windows are the rows from
``test_from`` on, taken ``fuse`` at a time (consecutive, non-overlapping): a fused trial's score is the mean of
its windows' distances, i.e. a decision over several prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The false acceptance rate at which :func:`frr_at_far` reports the false rejection rate.
FAR_TARGET = 0.01


def eer_point(genuine: FloatArray, impostor: FloatArray) -> tuple[float, float]:
    """Equal error rate and the score threshold where it occurs, for distance scores (higher = more
    likely an impostor; a score at or above the threshold is rejected).

    Follows the CMU benchmark's evaluation-script.R: walk the ROC over every distinct cutoff, take the
    last point whose miss rate is >= its false-alarm rate and the next one, and interpolate linearly to
    where the two rates are equal. The threshold is interpolated between the same two cutoffs.
    """
    if genuine.size == 0 or impostor.size == 0:
        raise ValueError("an EER needs genuine and impostor scores")
    scores = np.concatenate([genuine, impostor])
    is_imp = np.concatenate([np.zeros(genuine.size, bool), np.ones(impostor.size, bool)])
    order = np.argsort(-scores, kind="mergesort")
    scores, is_imp = scores[order], is_imp[order]
    # one ROC point per distinct cutoff c ("impostor" when score >= c), from c=+inf down to the minimum
    last_of_run = np.r_[scores[1:] != scores[:-1], True]
    cutoffs = np.r_[np.inf, scores[last_of_run]]
    tp = np.r_[0, np.cumsum(is_imp)[last_of_run]]
    fp = np.r_[0, np.cumsum(~is_imp)[last_of_run]]
    miss = 1.0 - tp / impostor.size  # impostors accepted
    fa = fp / genuine.size  # genuine samples rejected
    d = miss - fa  # non-increasing from 1 to -1
    i1 = int(np.nonzero(d >= 0)[0][-1])
    if i1 + 1 >= d.size:
        return float(fa[i1]), float(cutoffs[i1])
    i2 = i1 + 1
    x, y = (miss[i1], fa[i1]), (miss[i2], fa[i2])
    denom = y[1] - x[1] - y[0] + x[0]
    a = (x[0] - x[1]) / denom if denom else 0.0
    c1 = cutoffs[i1] if np.isfinite(cutoffs[i1]) else cutoffs[i2]
    return float(x[0] + a * (y[0] - x[0])), float(c1 + a * (cutoffs[i2] - c1))


def eer(genuine: FloatArray, impostor: FloatArray) -> float:
    """Equal error rate only (see :func:`eer_point`)."""
    return eer_point(genuine, impostor)[0]


def frr_at_far(genuine: FloatArray, impostor: FloatArray, far: float = FAR_TARGET) -> float:
    """False rejection rate at the strictest threshold whose false acceptance rate is at most ``far``.

    The threshold is the ``floor(far * n)``-th smallest impostor score: fewer than ``far * n`` impostor
    scores lie strictly below it (accepted), and every genuine score at or above it is rejected.
    """
    if genuine.size == 0 or impostor.size == 0:
        raise ValueError("an FRR needs genuine and impostor scores")
    k = int(np.floor(far * impostor.size))
    threshold = np.partition(impostor, k)[k]
    return float(np.mean(genuine >= threshold))


@dataclass(frozen=True, slots=True)
class Trials:
    """Distances of every (fused) test trial to every user's enrolment centroid.

    ``dist[i, u]`` is trial i's score against claimed user u; ``owner[i]`` is who typed trial i.
    """

    dist: FloatArray  # (trials, users)
    owner: IntArray  # (trials,)

    def global_scores(self) -> tuple[FloatArray, FloatArray]:
        """All genuine scores and all impostor scores (every trial against every other user)."""
        own = self.owner[:, None] == np.arange(self.dist.shape[1])[None, :]
        return self.dist[own], self.dist[~own]

    def per_user_eers(self) -> FloatArray:
        """The EER of each claimed user with a threshold of its own (own trials vs everybody else's)."""
        out = np.empty(self.dist.shape[1], dtype=np.float64)
        for u in range(self.dist.shape[1]):
            mine = self.owner == u
            out[u] = eer(self.dist[mine, u], self.dist[~mine, u])
        return out


def centroids(users: Sequence[FloatArray], enroll: int) -> FloatArray:
    """Unit-norm mean of each user's first ``enroll`` embeddings: (users, dim)."""
    c = np.stack([u[:enroll].mean(0) for u in users])
    return np.asarray(c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12), dtype=np.float64)


def build_trials(users: Sequence[FloatArray], enroll: int, test_from: int, fuse: int = 1) -> Trials:
    """Trials for users (each a (windows, dim) matrix with at least ``test_from + fuse`` rows).

    Args:
        enroll: windows that enrol each user (``enroll <= test_from``).
        test_from: index of the first test window, the same for every enrolment size so that results
            for different ``enroll`` are measured on the same test windows.
        fuse: consecutive test windows per decision (the mean of their distances).
    """
    if not 1 <= enroll <= test_from or fuse < 1:
        raise ValueError("need 1 <= enroll <= test_from and fuse >= 1")
    if any(u.shape[0] < test_from + fuse for u in users) or len(users) < 2:
        raise ValueError("every user needs test_from + fuse windows, and at least two users are needed")
    cents = centroids(users, enroll)
    rows: list[FloatArray] = []
    owner: list[int] = []
    for i, u in enumerate(users):
        tests = u[test_from:]
        groups = tests.shape[0] // fuse
        d = 1.0 - tests[: groups * fuse] @ cents.T  # (groups * fuse, users)
        rows.append(d.reshape(groups, fuse, -1).mean(1))
        owner.extend([i] * groups)
    return Trials(np.concatenate(rows).astype(np.float64), np.asarray(owner, dtype=np.int64))


@dataclass(frozen=True, slots=True)
class Rates:
    """The three reported numbers for one condition, and the global EER threshold."""

    global_eer: float
    threshold: float
    user_eer: float
    frr_at_far: float


def rates(trials: Trials) -> Rates:
    """Global EER (+ threshold), mean per-user EER and FRR at 1 % FAR of one set of trials."""
    genuine, impostor = trials.global_scores()
    value, threshold = eer_point(genuine, impostor)
    return Rates(value, threshold, float(trials.per_user_eers().mean()), frr_at_far(genuine, impostor))


def bootstrap_intervals(
    trials: Trials, reps: int = 100, seed: int = 0
) -> tuple[tuple[float, float], tuple[float, float]]:
    """95 % bootstrap intervals over users of the global EER and of the mean per-user EER (seeded).

    Why users: the held-out set is a few hundred people, so the uncertainty is mostly "which people";
    a resampled user brings its trials and its enrolment (its column) together.
    """
    n_users = trials.dist.shape[1]
    per_user = trials.per_user_eers()
    rng = np.random.default_rng(seed)
    globals_: list[float] = []
    users_: list[float] = []
    for _ in range(reps):
        pick: IntArray = np.asarray(rng.integers(0, n_users, n_users), dtype=np.int64)
        rows = np.concatenate([np.nonzero(trials.owner == u)[0] for u in pick])
        row_user = np.concatenate([np.full(int((trials.owner == u).sum()), k) for k, u in enumerate(pick)])
        dist = trials.dist[rows][:, pick]
        same = pick[row_user][:, None] == pick[None, :]
        globals_.append(eer(dist[same], dist[~same]))
        users_.append(float(per_user[pick].mean()))

    def ci(values: list[float]) -> tuple[float, float]:
        return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))

    return ci(globals_), ci(users_)
