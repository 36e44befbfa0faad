"""The kaomoji taxonomy: is a message led by a face, which face, and what it pools with.

Pure: standard library only, no I/O. The hook-free CLI (``llmojid-ctl face``) and the daemon's journal both
import it, so it stays cheap to import and never raises, whatever the string.

Two layers, on purpose (spec ``kaomoji-and-bundle.md`` sections 2-3):

* **The reference.** ``canonicalize``, ``is_kaomoji``, ``extract_candidate`` and ``baseline_leading_face`` are
  llmoji 3.0.0's rules (``llmoji_rules``), because they define what a row of the pooled corpus means:
  ``canonicalize`` is the key bundles pool on, and it is llmoji's for every input.
* **The detector.** ``leading_face`` is what the journal uses. It takes llmoji 3.0's face wherever llmoji finds
  one, so that face is journaled, canonicalized and pooled exactly as llmoji does, except where a named rule
  below says it is prose; and where llmoji finds nothing it looks further (``FOUND_BEYOND_LLMOJI``).

The named rules (each a constant naming it, a predicate, a test in ``tests/test_taxonomy.py``, a line in the
README):

* ``NO_FACE_GLYPH``: llmoji's span holds nothing a face is made of (only ASCII letters, digits, punctuation,
  typography, arrows, check marks, box drawing or decoration: no face glyph, no kana or kanji, no Greek or
  Cyrillic letter) and no pair of eyes (``^_^``, ``o|o``, ``(..)``, ``(= =)``, ``p_q``): ``[1]``, ``(1/3)``,
  ``(*)``, ``(→``, ``└──``, ``★★★★☆``, ``8)``, ``=>``, ``Σ(x)``, ``\\(``.
* ``WORD_OR_NUMBER_INSIDE``: the closed inside of its first bracket reads as a word, a number or a counter, and no
  face follows the bracket: ``(0.0)``, ``【重要】…``, ``「はい」と…``, ``(Привет)``, ``(Δx)``, ``「OK」``, ``(一)``.
* ``FOUND_BEYOND_LLMOJI``: llmoji takes no face, the detector below finds one: leaders llmoji does not know
  (``ლ(ಠ益ಠლ)``, ``༼ つ ◕_◕ ༽つ``, ``|･ω･)``, ``~(˘▽˘~)``), the shrug's backslash, a face after a decoration
  (``♡ (￣З￣)``).

How the detector below judges a line llmoji passes over:

1. **Span.** A bracket-led line walks to the matching close (by bracket type, so the hand in ``(」°ロ°)」`` does
   not end the face) within 32 characters and takes trailing arms. Any other line takes its first
   whitespace-delimited word; when that word opens a bracket it does not close (the face has inner spaces) the
   walk goes on across the spaces to the close. An ASCII letter or digit never leads a bracketed face. A
   Markdown code span is never a face.
2. **Refusals.** 2..32 characters, no run of 4 ASCII letters; a backslash inside the bracket; a run of 3 ASCII
   letters that is not a face word (``OwO``); a word in a prose script; a digit next to a letter, a digit or
   number punctuation.
3. **Evidence.** The body must hold a *face glyph* (a character faces are made of and prose is not: ``‿ ▽ ◕ ಠ
   ´ ﾟ ｡ ∀``, and a lone CJK glyph such as ``益``), classified from Unicode properties with explicit lists for
   what prose uses, what is only decoration (``★ ♪ ✧``) and what is ambiguous (``° • × ¬``, box drawing); or an
   eye-mouth-eye core (``^_^``, ``°д°``, ``o.O``) or a pair of eyes (``^^``, ``(_ _)``). A bare word needs the
   core.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Final

from llmojid.common.llmoji_rules import (
    LEADERS,
    MAX_FACE_LEN,
    OPEN_BRACKETS,
    canonicalize,
    first_line,
    is_kaomoji,
    reference_face,
    reference_split,
    split_after,
)

__all__ = [
    "FOUND_BEYOND_LLMOJI",
    "LLMOJI",
    "MAX_FACE_LEN",
    "NO_FACE_GLYPH",
    "WORD_OR_NUMBER_INSIDE",
    "baseline_leading_face",
    "canonicalize",
    "extract_candidate",
    "is_kaomoji",
    "judge",
    "leading_face",
]

#: What decided a verdict: llmoji's face taken as it is, or one of the named rules where the journal's detector
#: departs from llmoji 3.0 on purpose.
LLMOJI: Final = "llmoji"
NO_FACE_GLYPH: Final = "no-face-glyph"
WORD_OR_NUMBER_INSIDE: Final = "word-or-number-inside"
FOUND_BEYOND_LLMOJI: Final = "found-beyond-llmoji"

#: llmoji 3.0's splitter as it is: the reference the detector starts from (kept public for measurement).
baseline_leading_face: Final = reference_split


def extract_candidate(text: str) -> str:
    """llmoji 3.0's face at the start of ``text`` ("" when it takes none): at most 32 characters."""
    return reference_face(first_line(text)[0])


_LETTER_RUN4: Final = re.compile(r"[A-Za-z]{4}")
_WHITESPACE: Final = re.compile(r"\s")
#: Arms the detector keeps after a closed bracket (llmoji's trailing arms plus ``ᗒ``).
_TRAIL_ARM_SET: Final = frozenset("ﻭっ/⊂⊃✧۶ᕗᗒ७ψΨзʃ╱ノﾉ╯╮╭┌┐┘└¯_」』】〉》♪♫♬♥♡❤★☆ᕤ୨〕✿❀❣❥✦✩✪♩※")
# Bare faces: the spec's two-character forms and the eyes that pair up (``o_O``, ``>_<``).
_BARE_EXACT: Final = frozenset({"^^", "vv", "uu", "ㅠㅠ", "ㅜㅜ", "xD", "XD", "xP", "OwO", "UwU", "OvO", "UvU"})
_PAIRED_EYES: Final = frozenset({"><", "oO", "Oo"})
_B_EYE_PAIRS: Final = frozenset(
    {("o", "O"), ("O", "o"), ("o", "0"), ("0", "o"), ("O", "0"), ("0", "O"), (">", "<"), ("<", ">")}
    | {("x", "X"), ("X", "x"), ("u", "U"), ("U", "u")}
)


def _first_word_end(s: str, start: int = 0) -> int:
    """Index of the first whitespace character at or after ``start`` (``len(s)`` if none)."""
    m = _WHITESPACE.search(s, start)
    return m.start() if m else len(s)


def _take_trail_arms(s: str, end: int) -> int:
    """Extend a closed span over trailing arms, within the length cap."""
    j = end
    while j < len(s) and j < MAX_FACE_LEN and s[j] in _TRAIL_ARM_SET:
        j += 1
    return j


# ---------------------------------------------------------------------------------------------------------
# The detector: how characters are judged, and faces llmoji passes over
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
    | {"lll", "llll", "III", "IIII"}  # the gloom lines of Σ(▼ロ▼lll)
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
_SPACED_EYES: Final = re.compile(r"_\s+_|\.\s+\.|-\s+-|([^\x00-\x7f\s])\s+\1")
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
_WORD: Final = frozenset({"word"})
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


# ---------------------------------------------------------------------------------------------------------
# The named rules where llmoji 3.0 takes prose for a face
# ---------------------------------------------------------------------------------------------------------

#: A flat mouth between two punctuation eyes: ``(,_')``, ``(;_;)``, ``(._.)``.
_PUNCT_EYES_RE: Final = re.compile(r"[!-/:-@\[\]^`{-~]_+[!-/:-@\[\]^`{-~]")
#: One punctuation eye twice with only spaces between: ``(= =)``, ``(* *)``.
_SPACED_PUNCT_EYES_RE: Final = re.compile(r"([!-/:-@\[\]^`{-~])\s+\1")
#: Two of one eye glyph side by side: ``(..)``, ``(--)``, ``(__)``; three are an ellipsis or a rule.
_TWIN_EYES_RE: Final = re.compile(r"(?<![._\-])([._\-])\1(?![._\-])")
#: ASCII letters that are eyes when the same one sits either side of a mouth (``(o|o)``, ``(T!T)``, ``(xLx)``).
_LETTER_EYES: Final = frozenset("TtoOxXuUQqvbdpij")
#: Dashes prose uses that faces use as closed eyes: ``(― o ―)``, ``(―.―)``.
_DASH_EYES: Final = frozenset("―‐‒–—")
#: Eyes that differ but pair: a wink (``^'``, ``^°``), hands held up (``p…q``), squeezed shut (``>…<``).
_RULE_EYE_PAIRS: Final = frozenset(
    {("^", "'"), ("'", "^"), ("^", "°"), ("°", "^"), ("^", "`"), ("`", "^"), ("p", "q"), ("q", "p"), (">", "<")}
)
#: Eyes that are also prose punctuation: with a letter or digit between them they are an abbreviation or a
#: number (``i.e.``, ``1,2,3``, ``10:00``), not a face.
_PROSE_EYES: Final = frozenset(".,:")


#: Brackets of any kind: no evidence of a face by themselves.
_BRACKET_CHARS: Final = (
    frozenset(_X_OPEN_TYPE) | frozenset(_X_CLOSE_TYPE) | frozenset(OPEN_BRACKETS) | frozenset("）]｝ʔʡ」』】〉》〕")
)


def _is_eye(a: str, mouth: str, twin: bool) -> bool:
    """Can ``a`` be an eye round ``mouth``? Letters only from a short list; never a line or a prose glyph (a dash is
    an exception); ``. , :`` not round a letter or digit (``i.e.``, ``1,2``, ``10:00``); ``*`` not round ``.``."""
    if a in _LETTER_EYES or a in _DASH_EYES or (twin and _kind(a) == "word"):
        return True  # a Greek or Cyrillic letter twice is a pair of eyes: (σρσ), (ёωё)
    if a.isalnum() or a in _BRACKET_CHARS or _kind(a) in ("line", "prose", "mark", "space"):
        return False
    return not (a in _PROSE_EYES and mouth.isalnum()) and not (a == "*" and "." in mouth)


def _twin_eyes(s: str) -> bool:
    """Eyes either side of a mouth of one or two glyphs, spaces ignored: the same eye twice (``^q^``, ``o|o``,
    ``∩L∩``, ``☆.☆``, ``^-,^``) or a known pair (``p_q``, ``>,<``, ``^-'``)."""
    t = "".join(_fold(c) for c in s if not c.isspace())
    for i in range(len(t) - 2):
        a = t[i]
        for width in (1, 2):
            if i + width + 1 >= len(t):
                break
            mouth, b = t[i + 1 : i + 1 + width], t[i + 1 + width]
            if a in mouth or b in mouth or (width == 2 and any(c.isalnum() for c in mouth)):
                continue  # a wide mouth is punctuation (^-,^); between letters it is a word (or not)
            twin = a == b
            if (twin or (a, b) in _RULE_EYE_PAIRS) and _is_eye(a, mouth, twin) and _is_eye(b, mouth, twin):
                return True
    return False


def _inside(span: str) -> tuple[str, bool, int]:
    """What a face rule judges: (the inside of the span's first bracket, the innermost of a leading run such as
    ``((((`` or ``《《《``, to its typed close or to the end when it never closes; whether it closed; where the
    bracket ends). A span with no bracket is judged without its leading leaders, and counts as closed."""
    k = next((i for i, ch in enumerate(span) if ch in _X_OPEN_TYPE), -1)
    if k < 0:
        return span.lstrip("".join(LEADERS)), True, len(span)
    while k + 1 < len(span) and span[k + 1] in _X_OPEN_TYPE:
        k += 1
    end = _walk_typed(span, k)
    return (span[k + 1 : end - 1], True, end) if end > 0 else (span[k + 1 :], False, len(span))


def _has_eyes(inside: str) -> bool:
    """A pair of eyes: the detector's eye-mouth-eye core, twin eyes (``..``, ``__``, ``(,_')``), or equal eyes round
    any glyph."""
    t, kinds = _squeeze(inside)
    if len(t) >= 2 and (_has_core(inside, t, kinds) or _bare_face(t)):
        return True
    folded = "".join(_fold(c) for c in inside)
    if (_TWIN_EYES_RE.search(folded) or _PUNCT_EYES_RE.search(folded)) and not _reads_as_prose(t, kinds):
        return True
    if _SPACED_PUNCT_EYES_RE.search(folded):
        return True
    return _twin_eyes(inside)


def _no_face_glyph(span: str) -> bool:
    """``NO_FACE_GLYPH``: nowhere in the span (after its leaders) anything faces are made of: no face or CJK glyph, no
    Greek or Cyrillic letter, and no pair of eyes."""
    lead = 0
    while lead < len(span) and span[lead] in LEADERS and span[lead] not in _BRACKET_CHARS:
        lead += 1  # arms and leaders before the bracket (Σ, ψ, ★) are not the face
    body = span[lead:]
    _, kinds = _squeeze("".join(ch for ch in body if ch not in _BRACKET_CHARS))
    if any(k in ("face", "cjk", "word") for k in kinds):
        return False
    return not _has_eyes(body)


def _word_or_number_inside(span: str) -> bool:
    """``WORD_OR_NUMBER_INSIDE``: the closed inside of the first bracket reads as prose and no face follows it.

    Prose: only letters that spell a word (``「OK」``, ``【完了】``, ``(Привет)``, ``(Δx)``; not eyes round a mouth,
    ``(XoX)``, ``(pΩq)``); a lone kanji (``(一)``, ``（注）``; a lone kana such as ``(ェ)`` is a face part) or digit
    (``(1)``); or, among other glyphs, what ``_prose_among_glyphs`` calls a word or a number.
    """
    inside, closed, end = _inside(span)
    if not closed or (not any(ch in _X_OPEN_TYPE for ch in span) and _bare_face(span)):
        return False  # what follows an unclosed bracket is whatever the line says next
    if _face_follows(span[end:]):
        return False  # another face follows the bracket: (荷物)////┳┳|ﾄﾞｱЮﾍ(ﾟｰﾟ?)
    t, kinds = _squeeze(inside)
    if len(t) == 1:
        return (kinds[0] == "cjk" and _is_ideograph(t) and t not in _SINGLE_GLYPH_FACES) or t.isdigit()
    if t.isalpha():
        # Only letters: a word (「OK」, 【完了】, (Привет), (Δx)) unless it has eyes round a mouth (XoX, pΩq).
        return t != t[::-1] and not _twin_eyes(inside) and (t.isascii() or _reads_as_prose(t, kinds))
    return _prose_among_glyphs(t, kinds)


def _is_ideograph(c: str) -> bool:
    """A kanji or hanzi (``注``, ``一``): alone in brackets a word; a lone kana (``ェ``, ``ツ``) is a face part."""
    return unicodedata.name(c, "").startswith(("CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH"))


def _face_follows(after: str) -> bool:
    """Does a face follow the first bracket: a face glyph that is not punctuation, eyes, or a bracket holding a face."""
    if any(_kind(ch) == "face" and not unicodedata.category(ch).startswith("P") for ch in after):
        return True
    if _twin_eyes(after):
        return True
    for k, ch in enumerate(after):
        if ch in _X_OPEN_TYPE:
            end = _walk_typed(after[k:], 0)
            if end > 0 and _body_is_face(after[k + 1 : k + end - 1]):
                return True
    return False


#: Gloom lines drawn with letters: ``(ｌｌｌ´～｀ｌｌｌ)``, ``Σ(▼ロ▼lll)``.
_GLOOM_LINES: Final = frozenset("lI|")


def _prose_among_glyphs(t: str, kinds: list[str]) -> bool:
    """Prose inside a bracket that also holds other glyphs: three ASCII letters that are not a face word or gloom
    lines, three kana or kanji in a row, three Greek or Cyrillic letters in a row (one or two are eyes and mouths:
    ``(ノヘ;)``, ``(pΦwΦq)``), two digits in a row, or a digit next to number punctuation with no face glyph near."""
    for i, j in _runs(kinds, _ALPHA):
        word = t[i:j]
        if j - i >= 3 and word not in _FACE_WORDS and not set(word) <= _GLOOM_LINES:
            return True
    if any(j - i >= 3 for i, j in _runs(kinds, _CJK)):
        return True
    if any(j - i >= 3 and t[i:j] != t[i:j][::-1] for i, j in _runs(kinds, _WORD)):
        return True  # Привет; but ёωё mirrors: eyes round a mouth
    glyphs = any(k == "face" for k in kinds)
    snout = t.find("(00)")  # the pig's snout, ( ´(00)ˋ ): a face, whatever digits usually mean
    for i, k in enumerate(kinds):
        if k != "digit" or (snout >= 0 and snout < i < snout + 3):
            continue
        for n in (i - 1, i + 1):
            if 0 <= n < len(t) and (kinds[n] == "digit" or (not glyphs and t[n] in _NUMBER_PUNCT)):
                return True
    return False


#: The refusals, in the order they are asked; the first that holds names why llmoji's face is not taken.
PROSE_RULES: Final[tuple[tuple[str, Callable[[str], bool]], ...]] = (
    (NO_FACE_GLYPH, _no_face_glyph),
    (WORD_OR_NUMBER_INSIDE, _word_or_number_inside),
)


@lru_cache(maxsize=_VERDICT_CACHE)
def _refusal(span: str) -> str | None:
    for name, holds in PROSE_RULES:
        if holds(span):
            return name
    return None


def _judge_line(line: str) -> tuple[str | None, str | None, str]:
    reference = reference_face(line) or None
    if reference is not None:
        refused = _refusal(reference)
        return (None, reference, refused) if refused else (reference, reference, LLMOJI)
    found = _detect(line)
    return (found, None, FOUND_BEYOND_LLMOJI) if found else (None, None, "")


def judge(text: str) -> tuple[str | None, str | None, str]:
    """(the face the journal takes or None, llmoji 3.0's face or None, what decided): ``LLMOJI`` when llmoji's face
    is taken as it is, a named rule otherwise, "" when neither finds a face. For the tests, the bench and ``face``."""
    return _judge_line(first_line(text)[0])


def leading_face(text: str) -> tuple[str, str] | None:
    """The face leading a message and the message without it; None when the message is not face-led.

    llmoji 3.0's face where llmoji takes one, unless a named prose rule refuses it; the detector's where llmoji
    takes none. Returns ``(face as written, the rest of its line and the lines after, stripped)``, exactly as
    llmoji splits. Never raises, for any string.
    """
    line, after = first_line(text)
    face = _judge_line(line)[0]
    return split_after(face, line, after) if face else None
