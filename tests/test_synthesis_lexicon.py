"""Lexicon v2 (spec section 4) and the one gate every synthesis answer passes: `validate_bag`."""

from __future__ import annotations

import pytest

from llmojid.common import lexicon as lx


def test_vocabulary_is_the_spec() -> None:
    assert len(lx.PRIMARY_WORDS) == 26
    assert len(lx.CELLS) == 9
    assert len(lx.STANCE_WORDS) == 24
    assert len(set(lx.PRIMARY_WORDS) | set(lx.STANCE_WORDS)) == 50
    assert lx.CELLS["NB"] == ("neutral", "detached")
    assert lx.CELL_OF_WORD["weary"] == "LN"
    assert lx.LEXICON_VERSION == 2


def test_valid_bag_round_trips() -> None:
    bag = lx.validate_bag(
        {"primary_affect": ["sad", "weary"], "stance_modality_function": ["apologetic", "serious", "cautious"]}
    )
    assert bag.to_dict() == {
        "primary_affect": ["sad", "weary"],
        "stance_modality_function": ["apologetic", "serious", "cautious"],
    }
    assert lx.validate_bag_json(b'{"primary_affect":["sad"],"stance_modality_function":["wry","eager","proud"]}')


@pytest.mark.parametrize(
    "answer",
    [
        {"primary_affect": [], "stance_modality_function": ["wry", "eager", "proud"]},
        {"primary_affect": ["sad"] * 2, "stance_modality_function": ["wry", "eager", "proud"]},
        {
            "primary_affect": ["sad", "weary", "hollow", "neutral"],
            "stance_modality_function": ["wry", "eager", "proud"],
        },
        {"primary_affect": ["sad"], "stance_modality_function": ["wry", "eager"]},
        {
            "primary_affect": ["sad"],
            "stance_modality_function": ["wry", "eager", "proud", "serious", "quirky", "dramatic"],
        },
        {"primary_affect": ["happy"], "stance_modality_function": ["wry", "eager", "proud"]},
        {"primary_affect": ["wry"], "stance_modality_function": ["sad", "eager", "proud"]},
        {"primary_affect": ["sad"], "stance_modality_function": ["wry", "eager", "proud"], "notes": "x"},
        {"primary_affect": ["sad"]},
        {"primary_affect": "sad", "stance_modality_function": ["wry", "eager", "proud"]},
        {"primary_affect": [1], "stance_modality_function": ["wry", "eager", "proud"]},
        ["sad"],
        "sad",
    ],
)
def test_invalid_bags_are_refused(answer: object) -> None:
    with pytest.raises(lx.LexiconError):
        lx.validate_bag(answer)


def test_errors_never_echo_the_answer() -> None:
    canary = "CANARY0123456789"
    for answer in (
        {"primary_affect": [canary], "stance_modality_function": ["wry", "eager", "proud"]},
        {canary: ["sad"], "stance_modality_function": ["wry", "eager", "proud"]},
        f'{{"primary_affect": ["{canary}"'.encode(),
    ):
        with pytest.raises(lx.LexiconError) as info:
            if isinstance(answer, bytes):
                lx.validate_bag_json(answer)
            else:
                lx.validate_bag(answer)
        assert canary not in str(info.value)
