"""llmoji 3.0.0's face rules, reimplemented: the splitter, the validator and the canonical form.

The pooled corpus groups faces by these rules (spec ``kaomoji-and-bundle.md`` sections 2-3), so this module must
agree with ``llmoji.taxonomy`` 3.0.0 on every input: the same span (``reference_face``, ``reference_split``), the
same verdict (``is_kaomoji``) and the same canonical string (``canonicalize``, one pass). It is written from the
spec and checked against the real package by ``tests/test_taxonomy_differential.py``; llmoji itself is never
imported by the product. The journal's detector (``taxonomy.leading_face``) starts from ``reference_face``.

Pure: standard library only, no I/O, never raises.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Final

#: A face is at most 32 characters: real faces run 5-25, and the cap stops a walk swallowing a sentence.
MAX_FACE_LEN: Final = 32

OPEN_BRACKETS: Final = "([（｛ʕʢ「『【〈《〔"
CLOSE_BRACKETS: Final = ")]）｝ʔʡ」』】〉》〕"
_BRACKETS: Final = frozenset(OPEN_BRACKETS + CLOSE_BRACKETS)

#: First characters that may lead a face. ASCII letters, ``~`` and ``*`` are deliberately absent.
LEADERS: Final = frozenset("([（｛ヽヾっ٩ᕕ╰╭╮┐┌＼¯໒\\⊂✧ΣψΨεƪʕ╱╲「『【〈《└┘♪♫♬♥♡❤★☆ʢ✿❀❣❥✦✩✪♩ᕦᕙ〔※୧")

_LETTER_RUN4: Final = re.compile(r"[A-Za-z]{4}")

# --- bare faces (no leader) ------------------------------------------------------------------------------------
#: What may sit between the eyes of a bare face (``^_^``, ``T﹏T``, ``>ω<``), as one character class.
_BARE_MOUTH_RUN: Final = re.compile(
    "["
    + re.escape("_-.;:~=^|/\\oOwW·•°ωヮ〜")
    + "\u2010-\u2015\u2025-\u2026\u2032-\u2037\u203f\u2040\u3001\u3002\u3000・ー･＿？\ufe30-\ufe4f\u25b0-\u25ff"
    + "]+"
)
_BARE_EYE_PAIRS: Final = frozenset(
    {(">", "<"), ("<", ">"), (")", "("), ("(", ")"), ("]", "["), ("[", "]"), ("}", "{"), ("{", "}")}
    | {("\\", "/"), ("/", "\\"), ("o", "O"), ("O", "o")}
)
_WESTERN_EYES: Final = ":;=8<>"
_WESTERN_MOUTHS: Final = ")(DPpOo3<>/\\|*[]"
_WESTERN_NOSES: Final = "-^o'"
_LETTER_FACES: Final = frozenset({"OwO", "OWO", "owo", "UwU", "UWU", "uwu", "OvO", "OVO", "ovo", "UvU", "UVU", "uvu"})


def _western(s: str) -> bool:
    """Eye, optional nose, one or more mouths; 2-4 characters; not only the eye repeated (``>>``, ``==``)."""
    if not 2 <= len(s) <= 4 or s[0] not in _WESTERN_EYES:
        return False
    rest = s[1:]
    if rest[0] in _WESTERN_NOSES:
        rest = rest[1:]
    if not rest or any(c not in _WESTERN_MOUTHS for c in rest):
        return False
    return any(c != s[0] for c in rest)


def _bare_shape(s: str) -> bool:
    """A face with no leader: ``^_^``, ``>_<``, ``:)``, ``>:(``, ``=^.^=``, ``^^``, ``XD``, ``OwO``."""
    n = len(s)
    if n < 2:
        return False
    if n == 2:
        if (s[0] == s[1] and s[0] in "^vu") or s in ("ㅠㅠ", "ㅜㅜ"):
            return True
        if s[0] in "xX" and s[1] in "DPpOo3":
            return True
        return s[0] in _WESTERN_EYES and s[1] in _WESTERN_MOUTHS and s[0] != s[1]
    if n >= 5 and s[0] == "=" and s[-1] == "=" and _bare_shape(s[1:-1]):
        return True
    if _western(s) or (s[0] in "><" and _western(s[1:])):
        return True
    if s in _LETTER_FACES:
        return True
    inner = s[1:-1]
    if not inner or not _BARE_MOUTH_RUN.fullmatch(inner) or s[0] in inner:
        return False
    if s.isascii() and s.isalpha():
        return False  # lol, mom
    return s[0] == s[-1] or (s[0], s[-1]) in _BARE_EYE_PAIRS


def _holds_glyph(s: str) -> bool:
    """Something other than ASCII letters and brackets: ``(ab)`` is not a face, ``(0_0)`` may be."""
    return any(not c.isascii() or not (c.isalpha() or c in _BRACKETS) for c in s)


def is_kaomoji(candidate: str) -> bool:
    """llmoji 3.0's validator (``is_kaomoji_candidate``): is this span a face?"""
    c = candidate
    if not 2 <= len(c) <= MAX_FACE_LEN or "\\" in c[1:] or _LETTER_RUN4.search(c):
        return False
    if c[0] in LEADERS and _holds_glyph(c):
        return True
    return _bare_shape(c)


# --- the splitter ----------------------------------------------------------------------------------------------
_BODY_PUNCT: Final = frozenset(string.punctuation + "—–…“”‘’«»")
_TOKEN: Final = re.compile(r"\S+")


def _trailing_decoration(token: str) -> bool:
    """Does a token after the face still belong to it (``┻━┻``, ``・ﾟ``)? Not punctuation, words or numbers."""
    if all(c in _BODY_PUNCT or c.isdigit() for c in token):
        return False
    run = 0
    for c in token:
        if c.isascii() and c.isalnum():
            return False
        run = run + 1 if unicodedata.category(c).startswith("L") else 0
        if run >= 2:
            return False
    return True


def _glyph_span_end(line: str) -> int:
    """End of the glyph run: up to the first whitespace or ASCII letter outside brackets, within 32."""
    depth = end = 0
    for i, c in enumerate(line[:MAX_FACE_LEN]):
        if c in OPEN_BRACKETS:
            depth += 1
        elif c in CLOSE_BRACKETS:
            depth = max(depth - 1, 0)
        elif depth == 0 and (c.isspace() or (c.isascii() and c.isalpha())):
            break
        end = i + 1
    return end


def reference_face(line: str) -> str:
    """The face llmoji 3.0 takes at the start of ``line`` (one line, leading whitespace stripped), or ""."""
    face = line[: _glyph_span_end(line)].rstrip()
    if not is_kaomoji(face):
        first = _TOKEN.match(line)
        face = first.group() if first else ""
        if not is_kaomoji(face):
            return ""
    for token in _TOKEN.finditer(line, len(face)):
        if token.end() > MAX_FACE_LEN or not _trailing_decoration(token.group()):
            break
        face = line[: token.end()]
    return face


def first_line(text: str) -> tuple[str, str]:
    """(the first line after leading whitespace, the text after it) as llmoji splits: at ``\\n`` only."""
    line, sep, rest = text.lstrip().partition("\n")
    return line, sep + rest


def split_after(face: str, line: str, after: str) -> tuple[str, str]:
    """(face, the message without it): the rest of its line and the lines after, stripped, as llmoji does."""
    return face, (line[len(face) :] + after).strip()


def reference_split(text: str) -> tuple[str, str] | None:
    """llmoji 3.0's ``split_leading_kaomoji``: (face, body) when ``text`` opens with a face, else None."""
    line, after = first_line(text)
    face = reference_face(line)
    return split_after(face, line, after) if face else None


# --- the canonical form (section 3) ----------------------------------------------------------------------------
TRAIL_ARMS: Final = "ﻭっ/⊂⊃✧۶ᕗ७ψΨзʃ╱ノﾉ╯╮╭┌┐┘└¯_」』】〉》♪♫♬♥♡❤★☆ᕤ୨〕✿❀❣❥✦✩✪♩※つづ"
LEAD_ARMS: Final = "\\⊂✧ΣψΨεƪ╲٩ᕕ໒ヽヾ╰╭╮┐┌¯_「『【〈《└┘♪♫♬♥♡❤★☆ᕦᕙ୧〔✿❀❣❥✦✩✪♩※"
INSIDE_LEAD_ARMS: Final = "っ*つづ"
INSIDE_TRAIL_ARMS: Final = "ςc*"


def _canon_table() -> dict[int, int | None]:
    """Step 2 as one ``str.translate`` table. No destination is also a source, so one pass is the whole step."""
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
    for cp in range(0x0410, 0x0430):  # the basic Cyrillic capitals А-Я only (Ё and the others stay)
        table[cp] = cp + 0x20
    return table


_CANON_TABLE: Final = _canon_table()
_LEAD_OUTSIDE: Final = re.compile(rf"^[{re.escape(LEAD_ARMS)}]+(?=\()")
_TRAIL_OUTSIDE: Final = re.compile(rf"(?<=\))[{re.escape(TRAIL_ARMS)}]+$")
_LEAD_INSIDE: Final = re.compile(rf"^\([{re.escape(INSIDE_LEAD_ARMS)}]+")
_TRAIL_INSIDE: Final = re.compile(rf"[{re.escape(INSIDE_TRAIL_ARMS)}]+\)$")


def canonicalize(face: str) -> str:
    """The canonical form of a face, the key bundles pool on: llmoji 3.0's ``canonicalize_kaomoji``.

    ONE pass of the spec's steps in its order, not repeated: the corpus holds the one-pass form, so a face whose
    second pass would change further (``ヽ(・∀・ )ﾉ`` gives ``(・∀・ )``) keeps its one-pass key.
    """
    if not face:
        return ""
    s = unicodedata.normalize("NFC", face.strip()).translate(_CANON_TABLE)
    if s.startswith("(") and s.endswith(")"):
        s = "(" + s[1:-1].replace(" ", "") + ")"
    s = s.replace("・-・", "・_・")
    s = _LEAD_OUTSIDE.sub("", s)
    s = _TRAIL_OUTSIDE.sub("", s)
    s = _LEAD_INSIDE.sub("(", s)
    return _TRAIL_INSIDE.sub(")", s)
