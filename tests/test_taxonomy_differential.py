"""llmojid's taxonomy against the real llmoji 3.0.0 (installed ``--no-deps`` by scripts/setup; the product never
imports it): generated face-like strings and the public face lists of ``tests/face_lists.py``.

The contract (issue 13): the canonical form is llmoji's on every input; the span is llmoji's wherever llmoji
finds a face, except where a named rule refuses it (``taxonomy.NO_FACE_GLYPH``, ``WORD_OR_NUMBER_INSIDE``).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llmoji import taxonomy as llmoji

from llmojid.common import llmoji_rules, taxonomy
from tests import face_lists

NAMED_REFUSALS = {taxonomy.NO_FACE_GLYPH, taxonomy.WORD_OR_NUMBER_INSIDE}

# Characters faces, arms and prose openers are made of, so that generated strings hit every path of both.
_ALPHABET = list(
    "()（）[]［］｛｝ʕʔʢʡ「」『』【】〈〉《》〔〕ヽノﾉヾ٩۶ᕕᕗ ・･•-_ﾟ｡。◍◕◔◉●‿ᴗ◡ᵕ⌣⊂⊃っつづςc*\\/¯ツ^oOwW;:T><~～〜"
    "\u200b\u2060\ufeff\u0301\u0335\u033f\ufe0f ДЁИд\u0306╯°º˚□ಠ益ω∀´`｀‘’“”♡♪★☆✧Σψε※━┻ 　\n\t\x85\u2028"
    "abcXDPp0123456789.,!?！？=|&#%+ё"
)
face_like = st.text(alphabet=st.sampled_from(_ALPHABET), max_size=48)
any_text = st.one_of(face_like, st.text(max_size=48))
DIFF = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@DIFF
@given(any_text)
def test_canonical_form_is_llmojis_on_every_input(s: str) -> None:
    assert taxonomy.canonicalize(s) == llmoji.canonicalize_kaomoji(s)


@DIFF
@given(any_text)
def test_reference_split_and_validator_are_llmojis(s: str) -> None:
    assert taxonomy.baseline_leading_face(s) == llmoji.split_leading_kaomoji(s)
    assert taxonomy.is_kaomoji(s) == llmoji.is_kaomoji_candidate(s)
    assert llmoji_rules.reference_split(s) == llmoji.split_leading_kaomoji(s)


@DIFF
@given(any_text)
def test_span_is_llmojis_unless_a_named_rule_refuses(s: str) -> None:
    ours = taxonomy.leading_face(s)
    ref = llmoji.split_leading_kaomoji(s)
    taken, reference, rule = taxonomy.judge(s)
    assert reference == (ref[0] if ref else None)
    assert (ours[0] if ours else None) == taken
    if ref is not None:
        assert ours == ref or (ours is None and rule in NAMED_REFUSALS), (ours, ref, rule)
    elif ours is not None:
        assert rule == taxonomy.FOUND_BEYOND_LLMOJI
        assert ours[1] == s.lstrip()[len(ours[0]) :].strip()  # the body is split as llmoji splits


@pytest.mark.parametrize("split", ["dev", "test"])
def test_public_faces_span_and_canonical(split: face_lists.Split) -> None:
    """Every public face: the canonical form of the span we take is llmoji's canonicalization of it, and where
    llmoji finds a face we take its span unless a named rule says why not."""
    faces = face_lists.faces(split)
    assert len(faces) > 10_000  # the tiers are really there
    found = same = with_ref = 0
    for _face, message in face_lists.messages(faces):
        taken, reference, rule = taxonomy.judge(message)
        ref = llmoji.split_leading_kaomoji(message)
        assert reference == (ref[0] if ref else None)
        if taken is not None:
            found += 1
            assert taxonomy.canonicalize(taken) == llmoji.canonicalize_kaomoji(taken), taken
        if ref is not None:
            with_ref += 1
            same += taken == ref[0]
            assert taken == ref[0] or rule in NAMED_REFUSALS, message
    # Regression floors just under what bench/taxonomy.py measured (README, "Which messages are journaled").
    assert found / len(faces) >= 0.94  # issue 13's goals; measured 0.943 (dev) and 0.945 (test)
    assert same / with_ref >= 0.99  # measured 0.9905 and 0.9904
    assert found > sum(llmoji.split_leading_kaomoji(m) is not None for _f, m in face_lists.messages(faces))


@pytest.mark.parametrize("split", ["dev", "test"])
def test_prose_openers(split: face_lists.Split) -> None:
    openers = face_lists.openers(split)
    taken = [text for _kind, text in openers if taxonomy.leading_face(text) is not None]
    assert len(taken) * 40 <= 2 * len(openers), taken
    taken_by_llmoji = [text for _kind, text in openers if llmoji.split_leading_kaomoji(text) is not None]
    assert len(taken_by_llmoji) > 4 * len(taken)


def test_core_tier_is_never_read() -> None:
    assert "core" not in face_lists.TIERS
    assert {"mixed", "verbose", "extended"} == face_lists.TIERS


def test_split_is_stable_and_balanced() -> None:
    dev, test = face_lists.faces("dev"), face_lists.faces("test")
    assert not set(dev) & set(test)
    assert 0.45 < len(dev) / (len(dev) + len(test)) < 0.55
    assert face_lists.split_of("(^_^)") == face_lists.split_of("(^_^)")
