"""Pooling calibrated word scores from several views of one cell into one score per word. Pure: no model, no I/O.

A *view* is one calibrated scoring of the lexicon words (word -> score, in nats): the samples' prompt under one
wording of the question, or the face alone (its look as evidence). Wordings of one prompt share a scale and are
averaged as they are; views of different kinds differ in scale (a face alone moves the scores far less than four
samples do), so those are standardized over the words (z-scores) before the weighted mean. The result feeds the
cell rule of `scoring.pick_primary` unchanged.

`median_pool` is the robust pool for per-sample views: a word's pooled score is its median over the samples, so
one odd sample can move a word by at most the gap to its neighbour, never carry the cell alone.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence


def standardize(scores: Mapping[str, float]) -> dict[str, float]:
    """Z-scores over the words (a flat view, with no spread, becomes all zeros: it carries no evidence)."""
    values = list(scores.values())
    if not values:
        return {}
    mean = statistics.fmean(values)
    spread = statistics.pstdev(values)
    if not math.isfinite(spread) or spread == 0.0:
        return dict.fromkeys(scores, 0.0)
    return {word: (value - mean) / spread for word, value in scores.items()}


def weighted_pool(views: Sequence[tuple[Mapping[str, float], float]], *, standardized: bool = True) -> dict[str, float]:
    """The weighted mean of the views, each standardized first unless `standardized` is False (views already on
    one scale, such as wordings of one question under one prompt, keep their nats: the margin rule and the
    per-category offsets are in nats). Every view must score the same words; weights are >= 0, not all zero.

    Raises:
        ValueError: no view, views over different words, or unusable weights.
    """
    if not views:
        raise ValueError("pooling needs at least one view")
    words = list(views[0][0])
    if any(set(view) != set(words) for view, _ in views):
        raise ValueError("pooled views must score the same words")
    weights = [weight for _, weight in views]
    if any(weight < 0 or not math.isfinite(weight) for weight in weights) or sum(weights) == 0:
        raise ValueError("pooling weights must be finite, non-negative and not all zero")
    total = sum(weights)
    pooled = dict.fromkeys(words, 0.0)
    for view, weight in views:
        for word, value in (standardize(view) if standardized else view).items():
            pooled[word] += weight * value / total
    return pooled


def median_pool(views: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Per word, the median of its standardized scores over the views (robust to one odd view).

    Raises:
        ValueError: no view, or views over different words.
    """
    if not views:
        raise ValueError("pooling needs at least one view")
    words = list(views[0])
    if any(set(view) != set(words) for view in views):
        raise ValueError("pooled views must score the same words")
    standardized = [standardize(view) for view in views]
    return {word: statistics.median(view[word] for view in standardized) for word in words}
