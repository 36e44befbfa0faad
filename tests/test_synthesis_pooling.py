"""The pooling rule of the scoring method, on hand-made scores (pure: no model)."""

from __future__ import annotations

import pytest

from llmojid.common.lexicon import CELL_OF_WORD, PRIMARY_WORDS
from llmojid.daemon.model.pooling import median_pool, standardize, weighted_pool
from llmojid.daemon.model.scoring import pick_primary, rank


def view(high: dict[str, float]) -> dict[str, float]:
    """Every primary word at -3.0 nats except the ones given."""
    return {word: high.get(word, -3.0) for word in PRIMARY_WORDS}


def primary_of(scores: dict[str, float]) -> list[str]:
    return pick_primary(rank(scores, dict.fromkeys(scores, 0.0)))


def test_standardize_centres_and_scales_and_flat_views_carry_nothing() -> None:
    z = standardize({"a": 1.0, "b": 3.0})
    assert z == {"a": -1.0, "b": 1.0}
    assert standardize({"a": 2.0, "b": 2.0}) == {"a": 0.0, "b": 0.0}


def test_one_odd_sample_cannot_carry_the_cell() -> None:
    sad = view({"sad": -1.0, "weary": -1.2, "hollow": -1.5})
    odd = view({"indignant": 5.0, "frustrated": 5.0, "contemptuous": 5.0})  # one sample, far out
    samples = [sad, sad, sad, odd]
    assert {CELL_OF_WORD[w] for w in primary_of(median_pool(samples))} == {"LN"}
    # the plain mean of raw scores is carried by the odd sample: the reason for the median
    mean = {w: sum(s[w] for s in samples) / len(samples) for w in PRIMARY_WORDS}
    assert CELL_OF_WORD[primary_of(mean)[0]] == "HN-D"


def test_weights_decide_between_the_samples_and_the_face() -> None:
    samples = view({"cheery": -1.0, "excited": -1.0, "triumphant": -1.2})
    face = view({"sad": 0.0, "weary": 0.0, "hollow": 0.0})
    assert CELL_OF_WORD[primary_of(weighted_pool([(samples, 1.0), (face, 0.25)]))[0]] == "HP-S"
    assert CELL_OF_WORD[primary_of(weighted_pool([(samples, 0.25), (face, 1.0)]))[0]] == "LN"
    # scale does not matter, only the ranking evidence: a view in big numbers counts as much as one in small
    loud = {w: 100 * v for w, v in samples.items()}
    assert weighted_pool([(loud, 1.0), (face, 1.0)]) == pytest.approx(weighted_pool([(samples, 1.0), (face, 1.0)]))


def test_wordings_on_one_scale_are_averaged_in_nats() -> None:
    first = {"sad": -1.0, "cheery": -2.0}
    second = {"sad": -3.0, "cheery": -1.0}
    assert weighted_pool([(first, 1.0), (second, 1.0)], standardized=False) == {"sad": -2.0, "cheery": -1.5}
    assert weighted_pool([(first, 3.0), (second, 1.0)], standardized=False) == {"sad": -1.5, "cheery": -1.75}


def test_bad_pools_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one view"):
        weighted_pool([])
    with pytest.raises(ValueError, match="same words"):
        weighted_pool([({"a": 1.0}, 1.0), ({"b": 1.0}, 1.0)])
    with pytest.raises(ValueError, match="weights"):
        weighted_pool([({"a": 1.0}, 0.0)])
    with pytest.raises(ValueError, match="same words"):
        median_pool([{"a": 1.0}, {"b": 1.0}])
