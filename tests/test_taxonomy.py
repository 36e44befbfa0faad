"""The kaomoji taxonomy against its contract (spec ``kaomoji-and-bundle.md`` sections 2-3) and its corpus.

Every vector and every must-accept / must-reject example of the spec is a case here, for llmoji 3.0's rules
(``baseline_leading_face``, the reference) and for the journal's detector (``leading_face``); where the spec and
llmoji 3.0 disagree, llmoji 3.0 wins and the case says so. Each named rule where the detector departs from llmoji
has its cases. Property tests: the extractor never returns more than 32 characters and no string makes any of these
functions raise. The corpus tests (``tests/data/faces``) pin the measured behaviour: the detector keeps llmoji's
span unless a named rule refuses it, finds more faces, and takes almost no prose opener for a face. The
differential tests against the real llmoji 3.0.0 are in ``tests/test_taxonomy_differential.py``.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmojid.common import llmoji_rules, taxonomy
from llmojid.common.taxonomy import (
    MAX_FACE_LEN,
    baseline_leading_face,
    canonicalize,
    extract_candidate,
    is_kaomoji,
    leading_face,
)

FACES = Path(__file__).parent / "data" / "faces"
Detector = Callable[[str], "tuple[str, str] | None"]
DETECTORS: dict[str, Detector] = {"baseline": baseline_leading_face, "detector": leading_face}

# ---------------------------------------------------------------------------------------------------------
# Section 3: the canonical form
# ---------------------------------------------------------------------------------------------------------

WJ = "\u2060"  # WORD JOINER, as in the spec's first vector
CANONICAL_VECTORS = [
    (f"({WJ}◕{WJ}‿{WJ}◕{WJ}✿{WJ})", "(◕‿◕✿)"),
    ("(＞_＜)", "(>_<)"),
    ("(；ω；)", "(;ω;)"),
    ("( ; ω ; )", "(;ω;)"),
    ("(；´Д｀)", "(;´д`)"),
    ("(ºДº)", "(°д°)"),
    ("(´･ω･`)", "(´・ω・`)"),
    ("(っ╥﹏╥)っ", "(╥﹏╥)"),
    ("(´•ω•`)", "(´・ω・`)"),
    ("(◍•‿•◍)", "(｡・‿・｡)"),
    ("(・-・)", "(・_・)"),
    ("(´-ω-`)", "(´-ω-`)"),
    ("\\(^o^)/", "(^o^)"),
    ("⊂(˘ω˘)⊂", "(˘ω˘)"),
    ("✧(ˊᗜˋ)✧", "(ˊᗜˋ)"),
    ("⊂(◕‿◕)⊃", "(◕‿◕)"),
    ("ʕ•ᴥ•ʔ", "ʕ・ᴥ・ʔ"),
    ("Σ(°△°|||)", "(°△°|||)"),
    ("ψ(`Д´)ψ", "(`д´)"),
    ("ε(◕‿◕)з", "(◕‿◕)"),
    ("ƪ(˘⌣˘)ʃ", "(˘‿˘)"),
    ("٩(◕‿◕)۶", "(◕‿◕)"),
    ("ᕕ(ᐛ)ᕗ", "(ᐛ)"),
    ("╰(´∀｀)╯", "(´∀`)"),
    ("╮(´д｀)╭", "(´д`)"),
    ("¯\\_(ツ)_/¯", "(ツ)"),
    ("(╯°□°)╯", "(╯°□°)"),
    ("ヽ(´ー｀)ノ", "(´ー`)"),
    ("ヾ(◕‿◕)ノ", "(◕‿◕)"),
    ("(◑‿◐)", "(◕‿◕)"),
    ("(◖_◗)", "(◕_◕)"),
    ("(◉_◉)", "(⊙_⊙)"),
    ("(●_●)", "(⊙_⊙)"),
    ("(◕⌣◕)", "(◕‿◕)"),
    ("(・_・？)", "(・_・?)"),
    ("(～ω～)", "(~ω~)"),
    ("(´。・ᵕ・。`)", "(´｡・‿・｡`)"),
    ("(◠‿◠)", "(◠‿◠)"),
    ("┐(‘～`;)┌", "('~`;)"),
    ("(๑˃ᴗ˂)ﻭ", "(๑˃‿˂)"),
]


@pytest.mark.parametrize(("raw", "canonical"), CANONICAL_VECTORS, ids=[c for _, c in CANONICAL_VECTORS])
def test_canonical_vectors(raw: str, canonical: str) -> None:
    assert canonicalize(raw) == canonical
    assert canonicalize(canonical) == canonical


def test_every_vector_is_here() -> None:
    assert len(CANONICAL_VECTORS) == 40  # the spec's table holds 40 pairs


def test_distinct_faces_stay_distinct() -> None:
    assert canonicalize("(◕‿◕)") != canonicalize("(♥‿♥)")


@pytest.mark.parametrize("blank", ["", " ", "\t\n ", "\u3000"])
def test_blank_canonicalizes_to_empty(blank: str) -> None:
    assert canonicalize(blank) == ""


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("(\u200b^\ufeff_\u200d^)", "(^_^)"),  # invisibles deleted
        ("(˃̵‿˂̵)", "(˃‿˂)"),  # overlay U+0335 deleted
        ("(◕‿◕\ufe0f)", "(◕‿◕)"),  # variation selector deleted
        ("(ЁДЁ)", "(ЁдЁ)"),  # only А-Я fold, as llmoji 3.0 does (the spec's "Cyrillic capitals" is wider)
        ("(“◕‿◕”)", '("◕‿◕")'),  # curly double quotes straightened
        ("(˚□˚)", "(°□°)"),
        ("(*´ω`*)", "(´ω`)"),  # inside arms at both ends
        ("(つ´ω`)", "(´ω`)"),  # つ is an inside-leading arm too
        ("(つ´ω`)つ", "(´ω`)"),  # and an outside-trailing one in llmoji 3.0's arm set
        ("(￣ω￣)", "(￣ω￣)"),  # not folded on purpose
        ("(╥﹏╥)", "(╥﹏╥)"),  # ﹏ is not _
        ("ʢ◉ᴥ◉ʡ", "ʢ⊙ᴥ⊙ʡ"),  # a bear keeps its frame
    ],
)
def test_canonical_rules(raw: str, canonical: str) -> None:
    assert canonicalize(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("ヽ(・∀・ )ﾉ", "(・∀・ )"), ("( ｀∀´)ノ", "( `∀´)"), ("ヽ( ´ ∇ ｀ )ノ", "( ´ ∇ ` )")],
)
def test_canonicalization_is_one_pass(raw: str, canonical: str) -> None:
    """One pass, as llmoji 3.0 does it: spaces go only when the string starts with ``(`` and ends with ``)``
    before the arms are stripped, and the pass is not repeated (a second would change these further)."""
    assert canonicalize(raw) == canonical


# ---------------------------------------------------------------------------------------------------------
# Section 2: the spec's examples, for both detectors
# ---------------------------------------------------------------------------------------------------------

MUST_ACCEPT = [
    ("(｡˃ ᵕ ˂ ) That is wonderful!", "(｡˃ ᵕ ˂ )", "That is wonderful!"),
    ("✧*｡(ˊᗜˋ*)*｡✧ wow", "✧*｡(ˊᗜˋ*)*｡✧", "wow"),
    ("(◕‿◕ followed by prose", "(◕‿◕", "followed by prose"),
    ("\\(^o^)/", "\\(^o^)/", ""),
    ("ʕ•ᴥ•ʔ", "ʕ•ᴥ•ʔ", ""),
    # The extractor's own examples of trailing arms that belong to the face.
    ("(╯°□°)╯ again", "(╯°□°)╯", "again"),
    ("٩(◕‿◕)۶ yay", "٩(◕‿◕)۶", "yay"),
]
# Rule B's examples of bare faces.
BARE_FACES = ["^_^", "T_T", "-_-", "o_O", "><", ":)", ";-P", "XD", "=^.^="]  # llmoji 3.0 refuses the spec's oO
BARE_FACES += ["^^", "vv", "uu", "ㅠㅠ", "ㅜㅜ", "xD", "xP", "OwO", "UwU", "OvO", "UvU"]
MUST_REJECT = [
    "hello!",
    "(Backgrounddebugscript) trailing",
    "[pre-commit] passed",
    "(\\*´∀｀\\*) hello",
    "(this is a long parenthetical remark about things) and more",
    "hi",
    "m(_ _)m",
    "(unclosed",
    "lol",
    "mom",
    ">>",
    "==",
]


@pytest.mark.parametrize("detector", DETECTORS)
@pytest.mark.parametrize(("text", "face", "rest"), MUST_ACCEPT)
def test_must_accept(detector: str, text: str, face: str, rest: str) -> None:
    assert DETECTORS[detector](text) == (face, rest)


@pytest.mark.parametrize("detector", DETECTORS)
@pytest.mark.parametrize("face", BARE_FACES)
def test_bare_faces_accepted(detector: str, face: str) -> None:
    assert is_kaomoji(face)
    assert DETECTORS[detector](f"{face} that works") == (face, "that works")


@pytest.mark.parametrize("detector", DETECTORS)
@pytest.mark.parametrize("text", MUST_REJECT)
def test_must_reject(detector: str, text: str) -> None:
    assert DETECTORS[detector](text) is None


@pytest.mark.parametrize("text", MUST_REJECT)
def test_must_reject_validator(text: str) -> None:
    assert not is_kaomoji(extract_candidate(text))


# ---------------------------------------------------------------------------------------------------------
# The spec's extractor and validator, rule by rule
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "candidate"),
    [
        ("(｡˃ ᵕ ˂ ) ok", "(｡˃ ᵕ ˂ )"),  # bracket walk keeps inner spaces
        ("((╬◣﹏◢)) grr", "((╬◣﹏◢))"),  # depth
        ("(ツ)_/¯ meh", "(ツ)_/¯"),  # trailing arms
        ("ヽ( ´ ∇ ｀ )ノ", "ヽ( ´ ∇ ｀ )ノ"),  # the glyph run keeps inner spaces inside brackets
        ("\n\n   (^_^)\nsecond line", "(^_^)"),  # first non-blank line, leading whitespace stripped
        ("(" + "a" * 40 + ")", ""),  # never closes within 32, and the first word is too long
        ("x" * 50, ""),
        ("(╯°□°)╯︵ ┻━┻ flip", "(╯°□°)╯︵ ┻━┻"),  # trailing decoration tokens join the face
        ("", ""),
        ("   \n\t", ""),
    ],
)
def test_extract_candidate(line: str, candidate: str) -> None:
    assert extract_candidate(line) == candidate


@pytest.mark.parametrize(
    ("candidate", "ok"),
    [
        ("(", False),  # too short
        ("(" + "◕" * 32, False),  # too long
        ("\\(^o^)/", True),  # backslash at 0 is a wing
        ("(^\\o^)", False),  # anywhere else it is an escape
        ("(abcd)", False),  # a run of four ASCII letters
        ("(ab)", False),  # a leader, but nothing that is neither letter nor bracket
        ("[1]", True),  # llmoji 3.0's known false positive (the detector's NO_FACE_GLYPH refuses it)
        ("~(˘▽˘~)", False),  # ~ is not a leader
        ("*(^o^)*", False),  # nor is *
        ("ಠ_ಠ", True),  # llmoji 3.0's bare shape takes any eye twice round a mouth
        ("---", False),
        ("<3", True),  # a Western heart
    ],
)
def test_is_kaomoji(candidate: str, ok: bool) -> None:
    assert is_kaomoji(candidate) is ok


# ---------------------------------------------------------------------------------------------------------
# Where the detector departs from llmoji 3.0, on purpose (the named rules have their own section below)
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[1] Smith et al. report a speedup.",
        "(1/3) Running the linter...",
        "(e.g. foo.py) files are picked up.",
        "(i.e. it) is the default.",
        "[2/5] Building",
        "(50%) of the runs time out.",
        "(v2) The second attempt.",
        "(*) required fields",
        "【重要】この変更は後方互換性を壊します。",
        "「はい」と答えました。",
        "└── tests/",
        "╭─────────────────╮",
        "\\( \\alpha + \\beta \\)",
        "\\n is the newline escape.",
        "Σ(x) over all rows",
        "★★★★☆ (4/5)",
        "✧✧✧",
        "8) Finally, run the migrations.",
        "=> The function returns early.",
        "※注意：この操作は元に戻せません。",
        "(Δx) is the step size.",
    ],
)
def test_detector_refuses_prose_llmoji_takes(text: str) -> None:
    assert baseline_leading_face(text) is not None
    assert leading_face(text) is None


@pytest.mark.parametrize(
    ("text", "face"),
    [
        ("ヽ( ´ ∇ ｀ )ノ yay", "ヽ( ´ ∇ ｀ )ノ"),  # inner spaces after an arm
        ("ᕕ( ᐛ )ᕗ off we go", "ᕕ( ᐛ )ᕗ"),
        ("¯\\_(ツ)_/¯ no idea", "¯\\_(ツ)_/¯"),  # llmoji refuses the backslash at 1
        ("ლ(ಠ益ಠლ) why", "ლ(ಠ益ಠლ)"),  # leaders outside the spec's list
        ("༼ つ ◕_◕ ༽つ gimme", "༼ つ ◕_◕ ༽つ"),
        ("~(˘▽˘~) la la", "~(˘▽˘~)"),
        ("<(￣︶￣)> proud", "<(￣︶￣)>"),
        ("｡ﾟ(ﾟ´Д｀ﾟ)ﾟ｡ sorry", "｡ﾟ(ﾟ´Д｀ﾟ)ﾟ｡"),
        ("(」°ロ°)」 what", "(」°ロ°)」"),  # a mismatched closer is a hand, not the end
        ("|･ω･) peek", "|･ω･)"),
        ("ಠ_ಠ really", "ಠ_ಠ"),
        ("^_^; oops", "^_^;"),
        ("♡ (￣З￣) kiss", "♡ (￣З￣)"),
        ("ヽ(・∀・)ﾉHello there", "ヽ(・∀・)ﾉ"),  # prose glued to the face is not the face
    ],
)
def test_detector_finds_faces_whole(text: str, face: str) -> None:
    found = leading_face(text)
    assert found is not None and found[0] == face


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(^_^)\n\nThe tests pass.", ("(^_^)", "The tests pass.")),
        ("\n  (^_^)   spaced out  ", ("(^_^)", "spaced out")),  # the body is stripped, as llmoji does
        ("(^_^)", ("(^_^)", "")),
        ("(^_^)Great", ("(^_^)", "Great")),
    ],
)
def test_remainder(text: str, expected: tuple[str, str]) -> None:
    assert leading_face(text) == expected
    assert baseline_leading_face(text) == expected


def test_code_span_is_never_a_face() -> None:
    assert leading_face("`(^_^)` is the string literal in the test.") is None


def test_huge_message_costs_its_first_line() -> None:
    """Only a prefix is looked at: a 50 MB one-line message is as cheap as a short one."""
    text = "(^_^) " + "x" * 50_000_000
    found = leading_face(text)
    assert found is not None and found[0] == "(^_^)"
    assert len(found[1]) == 50_000_000


# ---------------------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------------------

# Characters faces are built from, so that generated strings hit the interesting paths often.
_FACE_ALPHABET = list(
    "()（）[]ʕʔ「」ヽノﾉヾ٩۶ᕕᕗ ・･•-_ﾟ｡。◕‿ᴗ◡⊂⊃っつς*c\\/¯ツ^oO;:T><~～\u200b\u2060\u0301\u0335\ufe0f"
    "ДЁИ\u0306╯°□ಠ益ω∀´`♡★ 　\n"
)
face_like = st.text(alphabet=st.sampled_from(_FACE_ALPHABET), max_size=40)
any_text = st.one_of(st.text(), face_like)
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(any_text)
def test_extractor_never_exceeds_32(s: str) -> None:
    assert len(extract_candidate(s)) <= MAX_FACE_LEN


@PROPS
@given(any_text)
def test_detectors_total_and_consistent(s: str) -> None:
    is_kaomoji(s)  # never raises, whatever it is given
    for detect in DETECTORS.values():
        found = detect(s)
        if found is None:
            continue
        face, rest = found
        assert 2 <= len(face) <= MAX_FACE_LEN
        stripped = s.lstrip()
        assert stripped.startswith(face)
        assert rest == stripped[len(face) :].strip()
        assert "\n" not in face


# ---------------------------------------------------------------------------------------------------------
# The corpus (tests/data/faces; see its README for sources and what the numbers mean)
# ---------------------------------------------------------------------------------------------------------


def _faces(name: str) -> list[str]:
    lines = (FACES / name).read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys(line for line in lines if line.strip()))


def _openers(name: str) -> list[str]:
    lines = (FACES / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def _message(face: str) -> str:
    return f"{face} Done! The tests pass now."


#: Openers the spec's rule B makes faces, so no detector honouring it can refuse them.
SPEC_MANDATED = {"^^ see the note above.", "<3 seconds on a warm cache."}


def test_detector_keeps_llmojis_span_unless_a_named_rule_refuses() -> None:
    """Compatibility: where llmoji 3.0 takes a face, the journal takes the same span or a named rule says why not."""
    for name in ("positives.txt", "positives_holdout.txt", "spec_faces.txt"):
        for face in _faces(name):
            message = _message(face)
            taken, reference, rule = taxonomy.judge(message)
            base = baseline_leading_face(message)
            assert reference == (base[0] if base else None), face
            if reference is not None:
                assert taken == reference or (taken is None and rule in NAMED_REFUSALS), face


def test_detector_finds_more_faces_on_the_public_lists() -> None:
    for name, floor in (("positives.txt", 0.94), ("positives_holdout.txt", 0.9)):
        faces = _faces(name)
        found = sum(leading_face(_message(f)) is not None for f in faces)
        base = sum(baseline_leading_face(_message(f)) is not None for f in faces)
        assert found > base, name
        assert found / len(faces) >= floor, (name, found, len(faces))


def test_detector_finds_every_spec_face_whole() -> None:
    for face in _faces("spec_faces.txt"):
        assert leading_face(_message(face)) == (face, "Done! The tests pass now."), face


def test_detector_refuses_the_prose_openers() -> None:
    """At most 2 in 40 on the dev openers (measured: 8 of 390, two of them faces by rule B); llmoji takes 157."""
    openers = _openers("negatives.jsonl")
    taken = [t for t in openers if leading_face(t) is not None]
    assert len(taken) * 40 <= 2 * len(openers), taken
    assert set(taken) >= SPEC_MANDATED  # rule B faces stay faces
    base = [t for t in openers if baseline_leading_face(t) is not None]
    assert len(base) > 100  # llmoji's weakness the named rules exist to fix is really there


def test_detector_refuses_held_out_prose_openers() -> None:
    openers = _openers("negatives_holdout.jsonl")
    taken = [t for t in openers if leading_face(t) is not None]
    assert len(taken) * 40 <= 2 * len(openers), taken


# ---------------------------------------------------------------------------------------------------------
# The named rules: each refuses what it names and lets the faces llmoji takes through
# ---------------------------------------------------------------------------------------------------------

NAMED_REFUSALS = {taxonomy.NO_FACE_GLYPH, taxonomy.WORD_OR_NUMBER_INSIDE}


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("[1] Smith et al. report a speedup.", taxonomy.NO_FACE_GLYPH),
        ("(*) required fields", taxonomy.NO_FACE_GLYPH),
        ("(→ see below)", taxonomy.NO_FACE_GLYPH),
        ("└── tests/", taxonomy.NO_FACE_GLYPH),
        ("★★★★☆ (4/5)", taxonomy.NO_FACE_GLYPH),
        ("8) Finally, run the migrations.", taxonomy.NO_FACE_GLYPH),
        ("=> The function returns early.", taxonomy.NO_FACE_GLYPH),
        ("Σ(x) over all rows", taxonomy.NO_FACE_GLYPH),
        ("\\( \\alpha + \\beta \\)", taxonomy.NO_FACE_GLYPH),
        ("(i.e. the second one) is it.", taxonomy.NO_FACE_GLYPH),
        ("(1/3) Running the linter...", taxonomy.NO_FACE_GLYPH),
        ("(v2) The second attempt.", taxonomy.NO_FACE_GLYPH),
        ("(0.0) is the origin.", taxonomy.WORD_OR_NUMBER_INSIDE),
        ("【重要】この変更は後方互換性を壊します。", taxonomy.WORD_OR_NUMBER_INSIDE),
        ("「はい」と答えました。", taxonomy.WORD_OR_NUMBER_INSIDE),
        ("(Привет) мир", taxonomy.WORD_OR_NUMBER_INSIDE),
        ("(Δx) is the step size.", taxonomy.WORD_OR_NUMBER_INSIDE),
        ("「OK」", taxonomy.WORD_OR_NUMBER_INSIDE),
        ("(一) 总则", taxonomy.WORD_OR_NUMBER_INSIDE),
    ],
)
def test_named_rule_refuses_what_llmoji_takes(text: str, rule: str) -> None:
    assert baseline_leading_face(text) is not None  # llmoji 3.0 takes it for a face
    assert leading_face(text) is None
    assert taxonomy.judge(text)[2] == rule


@pytest.mark.parametrize(
    "face",
    # The faces issue 13 names, and faces near each rule's edge that must keep llmoji's span.
    [
        *("(^q^)", "(*￣rǒ￣)", "(,_')ドテッ", "(>_<)ゞ", "( ｀∀´)ノ", "(o|o)", "(T!T)", "(..)", "(__)"),
        *("Σ(▼ロ▼lll)", "(☆.☆)", "(ΦwΦ)", "(ツ)", "ʕ•ᴥ•ʔ", "XD", "^^", "<3", "\\(^o^)/"),
    ],
)
def test_named_rules_keep_faces_llmoji_takes(face: str) -> None:
    message = f"{face} Done."
    base = baseline_leading_face(message)
    assert base is not None and base[0] == face
    assert leading_face(message) == base
    assert taxonomy.judge(message)[2] == taxonomy.LLMOJI


@pytest.mark.parametrize("text", ["ლ(ಠ益ಠლ) why", "|･ω･) peek", "¯\\_(ツ)_/¯ no idea", "~(˘▽˘~) la la"])
def test_found_beyond_llmoji(text: str) -> None:
    assert baseline_leading_face(text) is None
    assert leading_face(text) is not None
    assert taxonomy.judge(text)[2] == taxonomy.FOUND_BEYOND_LLMOJI


# ---------------------------------------------------------------------------------------------------------
# Purity: the hook-free CLI and the daemon import this module
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [taxonomy, llmoji_rules])
def test_imports_only_the_standard_library(module: object) -> None:
    tree = ast.parse(Path(str(getattr(module, "__file__", ""))).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    stdlib = {"__future__", "re", "string", "unicodedata", "functools", "collections.abc", "typing"}
    assert imported <= stdlib | {"llmojid.common.llmoji_rules"}
