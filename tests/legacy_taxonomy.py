"""The taxonomy as it was before issue 13 (schema version 4), kept for ``tests/test_resplit.py``: it writes journal
rows exactly as the old daemon did (its split, its canonical form repeated to a fixed point), so the migration to
llmoji 3.0's rules is tested on a real old journal. Test support only; the product never imports it.

The original module docstring follows.

The kaomoji taxonomy: is a message led by a face, which face, and what it pools with.

Pure: standard library and ``unicodedata`` only, no I/O. The hook-free CLI (``llmojid-ctl face``) and the
daemon's journal both import it, so it stays cheap to import and never raises, whatever the string.

Two layers, on purpose (spec ``kaomoji-and-bundle.md`` sections 2-3):

* **The floor.** ``extract_candidate``, ``is_kaomoji``, ``baseline_leading_face`` and ``canonicalize``
  implement the spec's rules as written, because those rules define what a row of the existing ``llmoji``
  corpus means. ``canonicalize`` is what pools bundles: there is one canonical form and it is the spec's.
* **The detector.** ``leading_face`` is what the journal uses. The spec's extractor cuts faces with inner
  spaces in half (``ヽ( ´ ∇ ｀ )ノ`` becomes ``ヽ(``), never considers leaders outside its list (``ლ ༼ ｡
  ~ < |``), refuses ``¯\\_(ツ)_/¯`` for its backslash, and takes prose openers for faces (``[1]``,
  ``(1/3)``, ``(e.g. x)``, ``【重要】``, ``└── src/``, ``\\(x\\)``). Wherever the floor finds a whole face,
  the detector returns the same span, so that face is journaled, canonicalized and pooled exactly as the
  old tool did; it differs by finding faces the floor misses or cuts, and by refusing openers that carry
  no face.

How the detector judges the first non-blank line:

1. **Span.** A bracket-led line walks to the matching close (by bracket type, so the hand in
   ``(」°ロ°)」`` does not end the face) within 32 characters and takes the spec's trailing arms. Any other
   line takes its first whitespace-delimited word, as the spec does; when that word opens a bracket it does
   not close (the face has inner spaces) the walk goes on across the spaces to the close. An ASCII letter
   or digit never leads a bracketed face (``m(_ _)m`` is letter-led, the spec rejects it): such a word can
   only be a bare face (``XD``, ``T_T``, ``8-)``). A Markdown code span is never a face.
2. **Refusals.** The spec's floor (2..32 characters, no run of 4 ASCII letters); a backslash inside the
   bracket (a Markdown escape, ``(\\*´∀｀\\*)``); a run of 3 ASCII letters that is not a face word
   (``OwO``); a word in a prose script (two CJK, kana or Hangul syllables in a row, ``【重要】``; Greek,
   Cyrillic or accented Latin letters next to each other that do not mirror, ``(Δx)``); a digit next to a
   letter, a digit or number punctuation (``(1/3)``, ``(50%)``, ``(v2)``).
3. **Evidence.** The body must hold a *face glyph* (a character faces are made of and prose is not:
   ``‿ ▽ ◕ ಠ ´ ﾟ ｡ ∀``, and a lone CJK glyph such as ``益``), classified from Unicode properties with
   explicit lists for what prose uses (typography, arrows, check marks, currency, emoji), what is only
   decoration (``★ ♪ ✧``) and what is ambiguous (``° • × ¬``, box drawing); or an eye-mouth-eye core
   (``^_^``, ``°д°``, ``o.O``) or a pair of eyes (``^^``, ``(_ _)``). A bare word needs the core.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Final

__all__ = [
    "MAX_FACE_LEN",
    "baseline_leading_face",
    "canonicalize",
    "extract_candidate",
    "is_kaomoji",
    "leading_face",
]

#: The spec caps a face at 32 characters: real faces run 5-25; the cap keeps a bracket walk from swallowing
#: a parenthetical sentence.
MAX_FACE_LEN: Final = 32

# ---------------------------------------------------------------------------------------------------------
# The spec's vocabulary (section 2). Any change here changes what a journal row means.
# ---------------------------------------------------------------------------------------------------------

OPEN_BRACKETS: Final = "([（｛ʕʢ「『【〈《〔"
CLOSE_BRACKETS: Final = ")]）｝ʔʡ」』】〉》〕"
_BRACKETS: Final = frozenset(OPEN_BRACKETS + CLOSE_BRACKETS)

#: First characters that may lead a face (rule A). ASCII letters, ``~`` and ``*`` are deliberately absent.
LEADERS: Final = frozenset("([（｛ヽヾっ٩ᕕ╰╭╮┐┌＼¯໒\\⊂✧ΣψΨεƪʕ╱╲「『【〈《└┘♪♫♬♥♡❤★☆ʢ✿❀❣❥✦✩✪♩ᕦᕙ〔※୧")

#: Arms and decorations outside a closing ``)``: the extractor keeps them with the face, the canonicalizer
#: strips them. One set for both so that what is extracted is exactly what canonicalization can undo.
TRAIL_ARMS: Final = "ﻭっ/⊂⊃✧۶ᕗᗒ७ψΨзʃ╱ノﾉ╯╮╭┌┐┘└¯_」』】〉》♪♫♬♥♡❤★☆ᕤ୨〕✿❀❣❥✦✩✪♩※"
_TRAIL_ARM_SET: Final = frozenset(TRAIL_ARMS)
#: Arms and decorations before an opening ``(``. Bear frames (``ʕ…ʔ``, ``ʢ…ʡ``) are not arms: they stay.
LEAD_ARMS: Final = "\\⊂✧ΣψΨεƪ╲٩ᕕ໒ヽヾ╰╭╮┐┌¯_「『【〈《└┘♪♫♬♥♡❤★☆ᕦᕙ୧〔✿❀❣❥✦✩✪♩※"
INSIDE_LEAD_ARMS: Final = "っつづ*"
INSIDE_TRAIL_ARMS: Final = "ςc*"

_LETTER_RUN4: Final = re.compile(r"[A-Za-z]{4}")

# Rule B, the bare faces. Eyes and mouths are the ASCII glyphs the spec's examples use.
_BARE_EXACT: Final = frozenset({"^^", "vv", "uu", "ㅠㅠ", "ㅜㅜ", "xD", "XD", "xP", "OwO", "UwU", "OvO", "UvU"})
_PAIRED_EYES: Final = frozenset({"><", "oO", "Oo"})
_B_EYES: Final = "^T-oO0xX><;@*uU=~"
_B_MOUTHS: Final = "_.-ow"
_B_EYE_PAIRS: Final = frozenset(
    {("o", "O"), ("O", "o"), ("o", "0"), ("0", "o"), ("O", "0"), ("0", "O"), (">", "<"), ("<", ">")}
    | {("x", "X"), ("X", "x"), ("u", "U"), ("U", "u")}
)
_WESTERN: Final = re.compile(r"[:;=8<>][-^o']?[)(DPpOo3<>/\\|*\[\]]")

# ---------------------------------------------------------------------------------------------------------
# Canonical form (section 3)
# ---------------------------------------------------------------------------------------------------------


def _canon_table() -> dict[int, int | None]:
    """One ``str.translate`` table for step 2: deletions, folds and Cyrillic case, built once at import.

    No destination is also a source, so one pass equals applying the rules one after another.
    """
    table: dict[int, int | None] = {}
    deleted = [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x0602, 0x033F]
    deleted += list(range(0x0334, 0x0339)) + list(range(0xFE00, 0xFE10))
    for cp in deleted:
        table[cp] = None
    folds = {
        "）": ")", "（": "(", "ｃ": "c", "＞": ">", "＜": "<", "；": ";", "：": ":", "＿": "_", "＊": "*",
        "｀": "`", "？": "?", "！": "!", "．": ".", "，": ",", "／": "/", "～": "~", "〜": "~", "［": "[",
        "］": "]", "｜": "|", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "º": "°", "˚": "°",
        "･": "・", "•": "・", "◔": "◕", "◑": "◕", "◐": "◕", "◒": "◕", "◓": "◕", "◖": "◕", "◗": "◕",
        "◉": "⊙", "●": "⊙", "ᴗ": "‿", "◡": "‿", "ᵕ": "‿", "⌣": "‿", "◍": "｡", "。": "｡",
    }  # fmt: skip
    for src, dst in folds.items():
        table[ord(src)] = ord(dst)
    # "Cyrillic capitals to lower case": every capital of the Cyrillic blocks with a one-letter lower case.
    for cp in range(0x0400, 0x0530):
        ch = chr(cp)
        if ch.isupper() and len(ch.lower()) == 1:
            table[cp] = ord(ch.lower())
    return table


_CANON_TABLE: Final = _canon_table()
_LEAD_OUTSIDE_RE: Final = re.compile(rf"^[{re.escape(LEAD_ARMS)}]+(?=\()")
_TRAIL_OUTSIDE_RE: Final = re.compile(rf"(?<=\))[{re.escape(TRAIL_ARMS)}]+$")
_LEAD_INSIDE_RE: Final = re.compile(rf"^\([{re.escape(INSIDE_LEAD_ARMS)}]+")
_TRAIL_INSIDE_RE: Final = re.compile(rf"[{re.escape(INSIDE_TRAIL_ARMS)}]+\)$")
#: One pass of the rules already is the fixed point on every face of the spec; a few more cover the rest.
_MAX_CANON_PASSES: Final = 8


def _canonical_pass(s: str) -> str:
    """Steps 1-5 of section 3, once."""
    s = unicodedata.normalize("NFC", s)
    s = s.translate(_CANON_TABLE).strip()
    if len(s) >= 2 and s[0] == "(" and s[-1] == ")":
        s = "(" + s[1:-1].replace(" ", "") + ")"
    s = s.replace("・-・", "・_・")
    s = _LEAD_OUTSIDE_RE.sub("", s)
    s = _TRAIL_OUTSIDE_RE.sub("", s)
    s = _LEAD_INSIDE_RE.sub("(", s)
    return _TRAIL_INSIDE_RE.sub(")", s)


def canonicalize(face: str) -> str:
    """The canonical form of a face: the key bundles pool on (spec section 3).

    The spec's steps, in its order, repeated until nothing changes. The spec states the result is
    idempotent, but a single pass is not always: stripping arms can uncover a ``( … )`` wrapper whose
    inner spaces step 3 already passed over (``ヽ(・∀・ )ﾉ`` gives ``(・∀・ )``, which itself gives
    ``(・∀・)``), and deleting an invisible can leave a sequence that NFC would compose. Repeating the
    pass is the only reading that keeps both the steps and the promise; on every vector of the spec one
    pass already is the fixed point. Empty or whitespace-only input gives ``""``.
    """
    if len(face) <= 2 * MAX_FACE_LEN:
        return _canonicalize_cached(face)
    return _canonicalize(face)


def _canonicalize(face: str) -> str:
    s = face
    for _ in range(_MAX_CANON_PASSES):
        t = _canonical_pass(s)
        if t == s:
            return t
        s = t
    return s


#: A journal repeats a few hundred faces thousands of times; only face-sized strings are kept.
_canonicalize_cached: Final = lru_cache(maxsize=8192)(_canonicalize)


# ---------------------------------------------------------------------------------------------------------
# The spec's extractor and validator (section 2): the floor
# ---------------------------------------------------------------------------------------------------------


def _first_line(text: str) -> str:
    """The first non-blank line with its leading whitespace stripped ("" when there is none).

    Only a prefix is split: no span reaches past ``MAX_FACE_LEN`` characters, plus trailing arms that are
    themselves capped, so a 50 MB message costs what a short one does.
    """
    s = text.lstrip()
    head = s[: 4 * MAX_FACE_LEN]
    lines = head.splitlines()
    return lines[0] if lines else ""


def _walk_brackets(s: str) -> int:
    """Index just past the bracket matching ``s[0]`` if it closes within ``MAX_FACE_LEN`` characters, else -1.

    The spec's walk: depth counts any of its openers against any of its closers, whatever their type.
    """
    depth = 0
    for i in range(min(len(s), MAX_FACE_LEN)):
        c = s[i]
        if c in OPEN_BRACKETS:
            depth += 1
        elif c in CLOSE_BRACKETS:
            depth -= 1
            if depth <= 0:
                return i + 1 if depth == 0 else -1
    return -1


_WHITESPACE: Final = re.compile(r"\s")


def _first_word_end(s: str, start: int = 0) -> int:
    """Index of the first whitespace character at or after ``start`` (``len(s)`` if none)."""
    m = _WHITESPACE.search(s, start)
    return m.start() if m else len(s)


def _take_trail_arms(s: str, end: int) -> int:
    """Extend a closed span over the spec's trailing arms, within the length cap."""
    j = end
    while j < len(s) and j < MAX_FACE_LEN and s[j] in _TRAIL_ARM_SET:
        j += 1
    return j


def extract_candidate(line: str) -> str:
    """The spec's candidate span at the start of ``line`` ("" when the line is blank).

    Takes the first non-blank line and strips its leading whitespace, so a whole message may be passed.
    Bracket-led: walk to the matching close within 32 characters and keep the trailing arms; otherwise, or
    when the bracket never closes, the first whitespace-delimited word cut to 32 characters.
    """
    s = _first_line(line)
    if not s:
        return ""
    if s[0] in OPEN_BRACKETS:
        end = _walk_brackets(s)
        if end > 0:
            return s[: _take_trail_arms(s, end)]
    return s[: min(_first_word_end(s), MAX_FACE_LEN)]


def _is_bare_face(c: str) -> bool:
    """Rule B: a face without a leader (``^_^``, ``:)``, ``XD``, ``=^.^=``)."""
    if c in _BARE_EXACT or c in _PAIRED_EYES:
        return True
    if c.isalpha() and c.casefold() == c.casefold()[::-1]:
        return False  # all-letter palindromes: lol, mom
    if len(c) == 2 and c[0] == c[1]:
        return False  # >>, ==
    if _WESTERN.fullmatch(c):
        return True
    core = c[1:-1] if len(c) == 5 and c[0] == "=" and c[-1] == "=" else c  # cat wrap =^.^=
    if len(core) != 3:
        return False
    a, m, b = core[0], core[1], core[2]
    return a in _B_EYES and b in _B_EYES and m in _B_MOUTHS and m not in (a, b) and (a == b or (a, b) in _B_EYE_PAIRS)


def is_kaomoji(candidate: str) -> bool:
    """The spec's validator, exactly: is this extracted candidate a face?"""
    c = candidate
    if not 2 <= len(c) <= MAX_FACE_LEN:
        return False
    if "\\" in c[1:]:
        return False
    if _LETTER_RUN4.search(c):
        return False
    if c[0] in LEADERS:
        return any(not (ch.isascii() and ch.isalpha()) and ch not in _BRACKETS for ch in c)
    return _is_bare_face(c)


def _split(text: str, face: str) -> tuple[str, str]:
    """(face, the message with the face and the whitespace around it removed)."""
    rest = text.lstrip()
    return face, rest[len(face) :].lstrip()


def baseline_leading_face(text: str) -> tuple[str, str] | None:
    """The spec's rules only (kept for measurement and compatibility checks); see ``leading_face``."""
    candidate = extract_candidate(text)
    if candidate and is_kaomoji(candidate):
        return _split(text, candidate)
    return None


# ---------------------------------------------------------------------------------------------------------
# The detector
# ---------------------------------------------------------------------------------------------------------

#: Brackets the detector matches by type (opener -> the closer that ends it). ``(`` and ``（`` are one type,
#: as real faces mix them (``(╯°□°）╯``). A closer that does not end the innermost open bracket is a face
#: glyph, not an end: the raised hand in ``(」°ロ°)」``, where the spec's untyped walk stops after ``(」``.
#: ``༼ ༽``, ``꒰ ꒱`` and ``₍ ₎`` frame many faces and never serve as arms; ``｢`` is left out because it is an
#: arm (``(｢• ω •)｢``).
_X_OPEN_TYPE: Final = {
    "(": ")", "（": ")", "[": "]", "｛": "｝", "ʕ": "ʔ", "ʢ": "ʡ", "「": "」", "『": "』", "【": "】",
    "〈": "〉", "《": "》", "〔": "〕", "༼": "༽", "꒰": "꒱", "₍": "₎",
}  # fmt: skip
_X_CLOSE_TYPE: Final = {c: c for c in _X_OPEN_TYPE.values()} | {"）": ")"}

#: Characters prose uses that carry no face: typography, quotes, currency, footnote and check marks.
_PROSE_CHARS: Final = frozenset("–—―‐‑‒…‧“”‘’‚„‟‛«»‹›‰‱″‴§¶©®™℠€£¥¢₹₽₩¤½¼¾⅓⅔µ¡¿÷✓✔✗✘✅❌❎➜➔➡⬅⬆⬇⚠⚡ℹ†‡№℃℉‖⁂")
#: Characters a face may use as eyes but prose uses too: face evidence only inside an eye-mouth-eye core,
#: and a mouth only between matched eyes (``(^×^)``, ``(*¯ ³¯*)``).
_AMBIG_CHARS: Final = frozenset("°•·∙⋅◦×¬±‾′¯¹²³")
#: Pure decoration: evidence of neither a face nor prose (``★★★★☆`` is a rating, ``♪♪♪`` a tune).
_DECOR_CHARS: Final = frozenset("♪♫♬♩♥♡❤❣❥★☆✧✦✩✪✿❀※✺✴✵✶✷✸✹❁❃❋⁎⁑")
#: Mathematical operators that are face parts (eyes, mouths); the rest of those blocks read as mathematics.
_FACE_MATH: Final = frozenset("∀∇≧≦≖⊙∂∠∵∴⌒⩊")
#: Scripts whose letters spell prose. One of their letters alone may be a face part (``Д``, ``ω``), but only
#: inside an eye-mouth-eye core; several in a row are a word. For Latin only the accented letters of
#: European prose count (Latin-1, Extended-A/B and Additional); the phonetic letters (``ʖ ᴥ ᴗ ɞ``) are face
#: parts, no language writes its words with them.
_WORD_SCRIPTS: Final = ("GREEK", "CYRILLIC", "ARABIC", "HEBREW", "THAI", "ARMENIAN", "GEORGIAN")
#: Scripts where one character is a word: one alone is a face glyph (``ロ 益 皿 눈``), two in a row are prose.
_CJK_SCRIPTS: Final = ("CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH", "HIRAGANA", "KATAKANA", "HANGUL SYLLABLE")
#: A bracketed body of one glyph is a face only for these (``¯\\_(ツ)_/¯``, ``ᕕ(ᐛ)ᕗ``).
_SINGLE_GLYPH_FACES: Final = frozenset("ツシᐛᗜω∀Ддᴥʖ")
#: ASCII letter runs that are faces, not words.
_FACE_WORDS: Final = frozenset(
    {"OwO", "UwU", "OvO", "UvU", "owo", "uwu", "QwQ", "TwT", "ToT", "TvT", "XD", "xD", "XP", "xP"}
)
#: Bare faces the detector takes whole: the spec's rule B list, the face words and the cheering ``\\o/``.
_X_BARE_EXACT: Final = _BARE_EXACT | _PAIRED_EYES | _FACE_WORDS | {"\\o/"}
#: Western emoticons. Narrower than rule B: ``8)`` is a list counter and ``=>``/``<>`` are operators, so
#: ``8`` needs a nose and ``<``/``>`` only make a heart (``<3``) or an angry brow (``>:(``).
_X_WESTERN: Final = re.compile(r"[:;=]['^o-]?[)(DPpOo3/|*\[\]]|[:;]['^o-]?[<>]|[8B]-[)(DPp]|</?3|>[:;]-?[)(DPp]")
# The eye-mouth-eye core. Eyes and mouths from ASCII (after folding full-width forms) are listed; any
# non-ASCII face part may be an eye, and a mouth unless it is ambiguous or decoration.
_X_EYES: Final = frozenset("^T-oO0xX><;@*uU=~.'`+Qq/\\")
_X_MOUTHS: Final = frozenset("_.-owvm3^x~0O<>")
_X_EYE_PAIRS: Final = _B_EYE_PAIRS | frozenset(
    {("^", "-"), ("-", "^"), ("^", "~"), ("~", "^"), ("^", "<"), (">", "^"), ("Q", "q"), ("q", "Q")}
    | {("/", "\\"), ("\\", "/"), ("'", "`"), ("`", "'")}
)
_X_PAIRED_EYES: Final = frozenset({"^^", "><", "oO", "Oo", "TT"})
#: Paired eyes with a gap: the bowing ``(_ _)``, ``( . .)``, and any non-ASCII eye twice (``(¬ ¬ )``).
_SPACED_EYES: Final = re.compile(r"_\s+_|\.\s+\.|([^\x00-\x7f\s])\s+\1")
#: Decorations allowed around an ASCII core in a bare word (``^_^;``, ``*_*``, ``=^.^=``).
_X_BARE_DECOR: Final = ";*'\"~!?/=#"
#: Punctuation that, next to a digit, makes a number, counter or version (``1/3``, ``50%``, ``0.5``, ``#1``).
_NUMBER_PUNCT: Final = frozenset("/.,%+=-#")
_EYE_KINDS: Final = frozenset({"ambig", "line", "decor", "face", "word", "cjk"})
_MOUTH_KINDS: Final = frozenset({"face", "word", "cjk"})


def _fold(c: str) -> str:
    """A full-width ASCII variant (``＾ Ｕ １``) as the ASCII it stands for; curly single quotes as ``'``."""
    cp = ord(c)
    if 0xFF01 <= cp <= 0xFF5E:
        return chr(cp - 0xFEE0)
    return "'" if c in "\u2018\u2019" else c


@lru_cache(maxsize=4096)
def _kind(c: str) -> str:
    """What a character is to the detector.

    One of: ``space``, ``mark`` (combining, format and unassigned: ignored), ``alpha``/``digit``/``punct``
    (ASCII, full-width forms folded in), ``prose``, ``ambig``, ``line`` (box drawing, blocks and arrows:
    arms and eyes of faces, but also trees and tables, so never a mouth), ``decor``, ``cjk``, ``word`` (a
    letter of a prose script) or ``face`` (a face part prose does not use).
    """
    if c.isspace():
        return "space"
    c = _fold(c)
    cp = ord(c)
    if cp < 0x80:
        if c.isalpha():
            return "alpha"
        return "digit" if c.isdigit() else "punct"
    cat = unicodedata.category(c)
    if cat in ("Mn", "Me", "Cf", "Cc", "Cs", "Co", "Cn", "Zl", "Zp"):
        return "mark"
    if c in _PROSE_CHARS:
        return "prose"
    if c in _AMBIG_CHARS:
        return "ambig"
    if c in _DECOR_CHARS:
        return "decor"
    if cp >= 0x1F000 or 0xFE00 <= cp <= 0xFE0F:
        return "prose"  # emoji and their presentation selectors
    if 0x2500 <= cp <= 0x259F or 0x2190 <= cp <= 0x21FF:
        return "line"
    if 0x2200 <= cp <= 0x22FF or 0x2A00 <= cp <= 0x2AFF:
        return "face" if c in _FACE_MATH else "ambig"
    if 0x2600 <= cp <= 0x27BF:
        return "decor"
    if cat[0] == "L":
        name = unicodedata.name(c, "")
        if cat == "Lo" and name.startswith(_CJK_SCRIPTS):
            return "cjk"
        if cat in ("Lu", "Ll", "Lt", "Lo") and (
            name.startswith(_WORD_SCRIPTS) or 0xC0 <= cp <= 0x24F or 0x1E00 <= cp <= 0x1EFF
        ):
            return "word"
    return "face"


def _squeeze(s: str) -> tuple[str, list[str]]:
    """The characters that matter for judging ``s`` (folded; spaces and marks dropped) and their kinds."""
    chars: list[str] = []
    kinds: list[str] = []
    for ch in s:
        k = _kind(ch)
        if k not in ("space", "mark"):
            chars.append(_fold(ch))
            kinds.append(k)
    return "".join(chars), kinds


def _runs(kinds: list[str], members: frozenset[str]) -> Iterator[tuple[int, int]]:
    """Maximal [start, end) runs of positions whose kind is in ``members``."""
    i, n = 0, len(kinds)
    while i < n:
        if kinds[i] in members:
            j = i
            while j < n and kinds[j] in members:
                j += 1
            yield i, j
            i = j
        else:
            i += 1


_ALPHA: Final = frozenset({"alpha"})
_CJK: Final = frozenset({"cjk"})
_WORDISH: Final = frozenset({"word", "alpha"})
_NUMBERISH: Final = frozenset({"alpha", "digit", "word"})


def _reads_as_prose(t: str, kinds: list[str]) -> bool:
    """Step 2: a word, a number or a counter in the squeezed text ``t`` (kinds alongside)."""
    for i, j in _runs(kinds, _ALPHA):
        if j - i >= 3 and t[i:j] not in _FACE_WORDS:
            return True
    if any(j - i >= 2 for i, j in _runs(kinds, _CJK)):
        return True
    for i, j in _runs(kinds, _WORDISH):
        run = t[i:j]
        if j - i >= 2 and "word" in kinds[i:j] and not (j - i >= 3 and run == run[::-1]):
            return True  # café, Δx, Привет; but ΘεΘ and ΦwΦ mirror, they are faces
    snout = t.find("(00)")  # the pig's snout, ( ´(00)ˋ ): a face, whatever digits usually mean
    for i, k in enumerate(kinds):
        if k == "digit" and not (snout >= 0 and snout < i < snout + 3):
            for n in (i - 1, i + 1):
                if 0 <= n < len(t) and (kinds[n] in _NUMBERISH or t[n] in _NUMBER_PUNCT):
                    return True
    return False


def _eme(a: str, m: str, b: str, ka: str, km: str, kb: str) -> bool:
    """Is ``a m b`` (folded characters, with their kinds) an eye-mouth-eye core such as ``^_^`` or ``°д°``?"""
    if not ((a in _X_EYES or ka in _EYE_KINDS) and (b in _X_EYES or kb in _EYE_KINDS)):
        return False
    if m in (a, b):
        return False  # ---, ..., ★★★
    if km in _MOUTH_KINDS:
        return True  # a face-only mouth: (^ω~), (>ᴗ•)
    matched = a == b or (a, b) in _X_EYE_PAIRS
    if km == "ambig":
        return matched  # (^×^), (*¯ ³¯*); a box or arrow glyph (kind "line") is never a mouth: ─┬─
    if m not in _X_MOUTHS or km not in ("alpha", "digit", "punct"):
        return False
    if m == "." and "*" in (a, b):
        return False  # *.* is a glob
    if m in "<>" and (a.isascii() or b.isascii()):
        return False  # a beak between round eyes, (°<°); between ASCII it is an arrow or ><>
    return matched or m == "_"


def _has_core(body: str, t: str, kinds: list[str]) -> bool:
    """An eye-mouth-eye core (``^_^``, ``°_°``, ``o.O``) or paired eyes (``^^``, ``(_ _)``) in a body."""
    if any(pair in t for pair in _X_PAIRED_EYES):
        return True
    folded = "".join(_fold(c) for c in body)
    if _SPACED_EYES.search(folded):
        return True
    for i in range(len(body) - 1):
        c = body[i]
        if c == body[i + 1] and not c.isascii() and (c in _AMBIG_CHARS or _kind(c) == "punct"):
            return True  # twin eyes: (．．), (－－), (××)
    return any(_eme(t[i], t[i + 1], t[i + 2], kinds[i], kinds[i + 1], kinds[i + 2]) for i in range(len(t) - 2))


#: Verdicts on bodies and bare words are pure and faces repeat (a journal holds a few hundred distinct faces
#: in thousands of rows), so they are memoized; the bound keeps memory flat on adversarial input.
_VERDICT_CACHE: Final = 8192


@lru_cache(maxsize=_VERDICT_CACHE)
def _body_is_face(body: str) -> bool:
    """Does the inside of a bracket carry a face, and nothing that reads as prose?"""
    if "\\" in body:
        return False  # a Markdown escape, (\*´∀｀\*)
    t, kinds = _squeeze(body)
    if not t or _reads_as_prose(t, kinds):
        return False
    if len(t) == 1:
        return t in _SINGLE_GLYPH_FACES
    return any(k in ("face", "cjk") for k in kinds) or _has_core(body, t, kinds)


@lru_cache(maxsize=_VERDICT_CACHE)
def _bare_face(word: str) -> bool:
    """A face with no bracket: ``^_^;``, ``:)``, ``XD``, ``ಠ_ಠ``, ``≧◉◡◉≦``, ``U^ｪ^U``."""
    if word in _X_BARE_EXACT or _X_WESTERN.fullmatch(word):
        return True
    if word.isascii():
        core = word.strip(_X_BARE_DECOR)
        if len(core) == 2:
            return core in _X_PAIRED_EYES
        if len(core) != 3 or core.isalpha():
            return False
        t, kinds = _squeeze(core)
        return len(t) == 3 and not _reads_as_prose(t, kinds) and _eme(t[0], t[1], t[2], *kinds)
    if "\\" in word[1:]:
        return False
    t, kinds = _squeeze(word)
    if len(t) < 2 or _reads_as_prose(t, kinds):
        return False
    if kinds[0] == "alpha" and t[0] != t[-1]:
        return False  # letter-led only when letters frame it, U^ｪ^U
    close = next((i for i, ch in enumerate(word) if ch in _X_CLOSE_TYPE), -1)
    if close > 1:
        return _body_is_face(word[:close])  # a face peeking round a wall: |･ω･), |_・)
    # Without a bracket nothing frames the face, so one odd glyph is not enough (``⌘K``, ``Ⅱ.``): it needs
    # eyes, ``∪･ω･∪``, ``≧◉◡◉≦``.
    return _has_core(word, t, kinds)


def _walk_typed(s: str, start: int) -> int:
    """Index just past the bracket matching ``s[start]`` by type, within ``MAX_FACE_LEN`` of 0; else -1."""
    stack: list[str] = []
    for i in range(start, min(len(s), MAX_FACE_LEN)):
        c = s[i]
        if c in _X_OPEN_TYPE:
            stack.append(_X_OPEN_TYPE[c])
        elif stack and _X_CLOSE_TYPE.get(c) == stack[-1]:
            stack.pop()
            if not stack:
                return i + 1
    return -1


def _checked(face: str, body: str) -> str | None:
    if not 2 <= len(face) <= MAX_FACE_LEN or _LETTER_RUN4.search(face):
        return None
    return face if _body_is_face(body) else None


def _glued_prose_start(s: str, start: int, end: int) -> int:
    """Where prose glued to a face begins (``ヽ(・∀・)ﾉHello``): a run of four ASCII letters, the run the spec
    rejects a whole word for. Shorter runs stay with the face as the spec keeps them (``☆⌒ヽ(*'､^*)chu``)."""
    m = _LETTER_RUN4.search(s, start, end)
    return m.start() if m else end


def _after_decoration(line: str, word_end: int) -> str | None:
    """A face after a word of pure decoration and a space (``♡ (￣З￣)``, ``☆ ～('▽^人)``), or None.

    The spec's extractor stops at the decoration and rejects it; a bullet, arrow or check mark (``• ``,
    ``→ ``, ``✓ ``) is prose, not decoration, and never gets here.
    """
    if word_end > 4 or any(_kind(ch) != "decor" for ch in line[:word_end]):
        return None
    start = word_end
    while start < len(line) and line[start].isspace():
        start += 1
    rest = line[start:]
    if not rest or (rest[0] not in _X_OPEN_TYPE and not (rest[0] in "~～〜" and rest[1:2] in _X_OPEN_TYPE)):
        return None
    face = _detect(rest)
    if face is None or start + len(face) > MAX_FACE_LEN:
        return None
    return line[: start + len(face)]


def _detect(line: str) -> str | None:
    """The detector's face at the start of ``line`` (already the first non-blank line), or None."""
    if not line or line[0] == "`":
        return None  # a Markdown code span is code, whatever it holds
    c0 = line[0]
    word = line[: _first_word_end(line)]
    if c0.isascii() and c0.isalnum():
        # Letter- or digit-led: a bare face or nothing; letter arms around a bracket (m(_ _)m) are out.
        if any(ch in _X_OPEN_TYPE for ch in word) or len(word) > MAX_FACE_LEN:
            return None
        return word if _bare_face(word) else None
    if c0 in _X_OPEN_TYPE:
        end = _walk_typed(line, 0)
        if end > 0 and c0 in OPEN_BRACKETS:
            return _checked(line[: _take_trail_arms(line, end)], line[1 : end - 1])
        if end > 0:  # a frame the spec does not know (༼ つ ◕_◕ ༽つ): its word's rest is arms, as after ヽ(…)
            return _checked(line[: _glued_prose_start(line, end, _first_word_end(line, end))], line[1 : end - 1])
        word = word[:MAX_FACE_LEN]  # never closed in time: the first word, as the spec says (``(◕‿◕``)
        return _checked(word, word[1:])
    # Led by anything else: an arm, a decoration, an unusual leader, or a bare face.
    k = next((i for i, ch in enumerate(word[:MAX_FACE_LEN]) if ch in _X_OPEN_TYPE), -1)
    if k < 0:
        word = word[:MAX_FACE_LEN]
        if _bare_face(word):
            return word
        return _after_decoration(line, len(word))
    prefix, kinds = _squeeze(word[:k])
    if _reads_as_prose(prefix, kinds):
        return None  # $(pwd), ~foo(x): a word or number before the bracket
    end = _walk_typed(line, k)
    if end < 0:
        word = word[:MAX_FACE_LEN]
        return _checked(word, word[k + 1 :])
    # Closed, maybe across the spaces the word stopped at (ヽ( ´ ∇ ｀ )ノ): the rest of its word is arms.
    face = line[: _glued_prose_start(line, end, _first_word_end(line, end))]
    if len(face) > MAX_FACE_LEN:
        face = line[: _take_trail_arms(line, end)]
    return _checked(face, line[k + 1 : end - 1])


def leading_face(text: str) -> tuple[str, str] | None:
    """The face leading a message and the message without it; None when the message is not face-led.

    This is the journal's detector (the module docstring says how it judges). Returns ``(face as written,
    text with the face and the whitespace around it removed)``. Never raises, for any string.
    """
    face = _detect(_first_line(text))
    if face is None:
        return None
    return _split(text, face)
