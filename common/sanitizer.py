"""PII sanitizer: find personal data and secrets in free text and replace them with typed placeholders.

Every journal sample passes through :func:`sanitize` before synthesis, and so does anything the bundle builder
touches; the auditor calls :func:`find_pii` to prove that nothing stored in the clear holds personal data.
``llmojid-ctl sanitize`` shows a user what would be redacted.

Types (each replaced by ``[TYPE]``):

========  ====================================================================================================
EMAIL     addresses (``git@host:org/repo`` remotes and ``pi@raspberrypi.local`` logins are not e-mail), and
          addresses spelled out to dodge scrapers (``jane dot doe at example dot org``, ``bob [at] example [.] net``,
          ``ann_at_example_dot_org``, ``julie point roy arobase exemple point fr``)
PHONE     numbers judged by ``phonenumbers``: international form, else US, else a few trunk-0 regions
CARD      13-19 digits in a card grouping, with a card issuer prefix, Luhn-checked
IBAN      country code, check digits, the country's registered length, mod-97 checked
SSN       US social security numbers (``AAA-GG-SSSS``, or nine digits after "SSN")
IP        IPv4 (not after "version", "v", "==") and IPv6, both validated by :mod:`ipaddress`
URL       URLs that carry credentials, a query string, or a fragment with ``=``; other URLs are kept, and so are
          URLs whose password is a placeholder (``user:password@``, ``app:$(DB_PASSWORD)@``). A secret in a
          parameter (``?api_key=X``, ``&sig=X``) is typed SECRET, the URL around it URL
SECRET    API keys by prefix (``sk-``, ``ghp_``, ``github_pat_``, ``xox?-``, ``AKIA``, ``hvs.``...), JWTs, PEM
          private key blocks, bearer tokens (hex ones too) and whatever an ``Authorization`` header carries,
          values assigned to password/secret/token/api-key names (in XML elements too) and key material after
          any name ending in key/secret/token/signature (``AccountKey=``, ``X-Functions-Key:``) or naming a
          session, passwords, PINs and access codes stated in prose (``my password is hunter2``, ``creds: admin
          / s3cret``, ``log in as root with toor2024``, ``uses 'X' as its password``, ``heslo je X``,
          ``パスワードは X``, ``root:toor on the vm``, ``the wifi key is X``), typed at a prompt
          (``[sudo] password for deploy: X``, ``Passwort: X``, ``I typed X at the prompt``), in SQL
          (``IDENTIFIED BY 'x'``), in a ``.pgpass`` line, handed to code (``auth=('u', 'X')``) or given on a
          command line (``mysql -p...``, ``curl -u user:pass``, ``sshpass -p``, ``--password X``, ``-passout
          pass:X``, ``sqlplus user/pass@db``, ``-u U -p X``, ``echo X | ... --password-stdin``, ``<<< X``,
          ``ConvertTo-SecureString X``, ``nmcli ... password X``), in a ``name value`` setting line
          (``requirepass X``), an XML ``key="...password"`` attribute, a literal handed to a call
          (``String::from("X")``, a look-up's default, ``set_password(..., "X")``, ``define('DB_PASSWORD', 'X')``,
          ``new NetworkCredential("u", "X")``), an SQL insert's password column, a
          command's printed output (``... | base64 -d``, ``echo $DB_PASSWORD``), a shell default
          (``${DB_PASSWORD:-X}``), ``user:pass@host`` without a scheme, long high-entropy strings
          (hex-only strings such as git hashes and UUIDs are not secrets by themselves, nor are words run
          together such as class names)
PATH      home directories that name a user: ``/home/NAME``, ``/Users/NAME``, ``C:\\Users\\NAME``, ``~NAME/``
DOB       full dates after "born", "DOB", "date of birth", "birthday"...
========  ====================================================================================================

Cost. Python's ``re`` backtracks, so every pattern here is written so that each start position costs a bounded
amount of work and no position inside a consumed run is tried again: runs are matched with possessive
quantifiers (``*+``, new in 3.11) behind a lookbehind that forbids starting inside a run; repetitions of
ambiguous pieces are bounded; anything needing judgement (Luhn, mod-97, entropy, IP parsing, phone validity) is
done in Python on candidates of bounded length; multi-part structures (PEM blocks) are paired in one pass over
their markers, never by searching forward from each start. For speed on ordinary text, a pattern begins with a
literal or a character set and checks its left boundary with a lookbehind placed after the first character
(so the engine's fast prefix scan applies), keywords are searched in a lower-cased copy, and each detector
first checks that its trigger characters occur at all. The phone library is the costly part (0.5-2 ms per
look), so it only sees stretches of digits whose count could be a number, and its looks are budgeted per text
(see ``_phones``). ``bench/sanitizer.py`` prints throughput, adversarial inputs at several sizes included.

Input longer than :data:`MAX_INPUT_CHARS` is truncated before scanning (``Sanitized.truncated`` says so), and the
cut is moved back to a whitespace so that no half token (the front of an address, say) survives unrecognised.

Overlapping findings are joined into one span, so no part of anything a detector flagged stays in the clear;
the joined span takes the type of the detector of highest precedence (the order of ``_DETECTORS``): a URL that
carries credentials wins over the e-mail-like text or the token inside it; the generic high-entropy rule loses
to everything.

Nothing in this module logs, and no exception it raises carries any of the text it was given.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

#: Characters scanned per call. A journal turn is a few kilobytes; a quarter million characters is far above
#: any real one and bounds the worst case (digit soup made to keep the phone library busy) to a few seconds.
MAX_INPUT_CHARS = 262_144

#: How far back the truncation point may move to land on whitespace.
_TRUNCATION_BACKOFF = 1024

TYPES: tuple[str, ...] = ("CARD", "DOB", "EMAIL", "IBAN", "IP", "PATH", "PHONE", "SECRET", "SSN", "URL")


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data: its type and its span ``text[start:end]`` (the text itself is not kept)."""

    type: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Sanitized:
    """The redacted text, the distinct types replaced (sorted), and whether the input was cut at the cap."""

    text: str
    found: tuple[str, ...]
    truncated: bool = False


def placeholder(kind: str) -> str:
    """The text that replaces a finding of ``kind``."""
    return f"[{kind}]"


def sanitize(text: str) -> Sanitized:
    """Replace every finding in ``text`` (cut to :data:`MAX_INPUT_CHARS`) with its placeholder.

    Raises:
        TypeError: ``text`` is not a ``str`` (the message names the type only).
    """
    if not isinstance(text, str):
        raise TypeError(f"sanitize expects str, not {type(text).__name__}")
    scanned, truncated = _cap(text)
    findings = _find(scanned)
    parts: list[str] = []
    pos = 0
    for f in findings:
        parts.append(scanned[pos : f.start])
        parts.append(placeholder(f.type))
        pos = f.end
    parts.append(scanned[pos:])
    return Sanitized("".join(parts), tuple(sorted({f.type for f in findings})), truncated)


def find_pii(text: str) -> list[Finding]:
    """Non-overlapping findings in ``text``, by start offset. Only the first :data:`MAX_INPUT_CHARS` are
    scanned (as in :func:`sanitize`); a caller auditing longer text splits it, or treats the length as a fault.

    Raises:
        TypeError: ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"find_pii expects str, not {type(text).__name__}")
    return _find(_cap(text)[0])


def _cap(text: str) -> tuple[str, bool]:
    """``text`` cut to the cap, moved back to a whitespace when one is near, and whether it was cut."""
    if len(text) <= MAX_INPUT_CHARS:
        return text, False
    cut = MAX_INPUT_CHARS
    floor = cut - _TRUNCATION_BACKOFF
    while cut > floor and not text[cut - 1].isspace():
        cut -= 1
    return text[: cut if cut > floor else MAX_INPUT_CHARS], True


# --------------------------------------------------------------------------------------------------------------
# The scan: the text, a lower-cased copy with the same offsets (for keyword searches), cheap trigger tests.

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


class _Scan:
    __slots__ = ("has_digit", "lower", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        lower = text.lower()
        # str.lower may lengthen a character (U+0130); then fall back to ASCII-only folding, which keeps offsets.
        self.lower = lower if len(lower) == len(text) else text.translate(_ASCII_LOWER)
        self.has_digit = any(d in text for d in "0123456789")


# A candidate is (start, end, type). Each detector yields its own in any order; _find joins overlaps.
_Candidate = tuple[int, int, str]
_Span = tuple[int, int]
_Detector = Callable[[_Scan], Iterator[_Candidate]]


def _find(text: str) -> list[Finding]:
    """Findings of all detectors; overlapping ones are joined into one span (nothing any detector flagged is
    left in the clear), typed by the detector of highest precedence among them."""
    scan = _Scan(text)
    ranked = [(s, e, rank, kind) for rank, detector in enumerate(_DETECTORS) for s, e, kind in detector(scan) if e > s]
    ranked.sort()
    findings: list[Finding] = []
    i = 0
    while i < len(ranked):
        start, end, rank, kind = ranked[i]
        i += 1
        while i < len(ranked) and ranked[i][0] < end:
            _, e, r, k = ranked[i]
            end = max(end, e)
            if r < rank:
                rank, kind = r, k
            i += 1
        findings.append(Finding(kind, start, end))
    return findings


def _before(text: str, start: int, width: int) -> str:
    return text[max(0, start - width) : start]


def _word_char_before(text: str, i: int) -> bool:
    return i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")


# --------------------------------------------------------------------------------------------------------------
# SECRET: PEM private keys. BEGIN and END markers are found in one pass each and paired by position.

_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----")
# Without an END marker (a truncated paste) the block runs over the base64 lines and PEM headers that follow,
# newlines possibly JSON-escaped.
_PEM_BODY = re.compile(r"(?:(?:\s|\\[nr])++(?:[A-Za-z0-9+/=]{8,}+|Proc-Type:[^\n\\]*+|DEK-Info:[^\n\\]*+))*+")


def _pem_blocks(scan: _Scan) -> Iterator[_Candidate]:
    text = scan.text
    if "PRIVATE KEY" not in text:
        return
    ends = [m.end() for m in _PEM_END.finditer(text)]
    k = 0
    for m in _PEM_BEGIN.finditer(text):
        while k < len(ends) and ends[k] <= m.end():
            k += 1
        if k < len(ends):
            yield m.start(), ends[k], "SECRET"
        else:
            body = _PEM_BODY.match(text, m.end())
            yield m.start(), body.end() if body else m.end(), "SECRET"


# SECRET: tokens recognised by their prefix. The left boundary (not inside a longer word) is checked in Python;
# every branch either ends in a bounded piece or a possessive run, so a failed start costs a bounded amount.
_PREFIXED_SECRET = re.compile(
    r"""(?:
        sk-[A-Za-z0-9_\-]{20,}+                       # OpenAI / Anthropic style (sk-proj-, sk-ant-...)
      | (?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}+     # Stripe secret and restricted keys
      | gh[pousr]_[A-Za-z0-9]{30,}+                   # GitHub tokens
      | github_pat_[A-Za-z0-9_]{22,}+                 # GitHub fine-grained tokens
      | glpat-[A-Za-z0-9_\-]{20,}+                    # GitLab
      | xox[abposer]-[A-Za-z0-9\-]{10,}+              # Slack
      | (?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])      # AWS access key ids
      | AIza[A-Za-z0-9_\-]{35}(?![A-Za-z0-9_\-])      # Google API keys
      | hf_[A-Za-z0-9]{30,}+                          # Hugging Face
      | npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])            # npm
      | hv[sbr]\.[A-Za-z0-9_\-]{20,}+                  # HashiCorp Vault service, batch, recovery tokens
      | dckr_pat_[A-Za-z0-9_\-]{16,}+                  # Docker Hub personal access tokens
      | pypi-[A-Za-z0-9_\-]{40,}+                      # PyPI upload tokens
      | shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}(?![A-Za-z0-9])   # Shopify
      | SG\.[A-Za-z0-9_\-]{16,}+\.[A-Za-z0-9_\-]{16,}+   # SendGrid
      | do[opr]_v1_[a-f0-9]{64}(?![A-Za-z0-9])         # DigitalOcean
      | gl(?:rt|dt|ptt|cbt|imt|oas)-[A-Za-z0-9_\-]{20,}+  # GitLab runner, deploy, trigger... tokens
      | ya29\.[A-Za-z0-9_\-]{20,}+                     # Google OAuth access tokens
      | AGE-SECRET-KEY-1[A-Z0-9]{50,}+                  # age private keys
      | key-[0-9a-f]{32}(?![A-Za-z0-9])              # Mailgun
      | sq[upa]_[0-9a-f]{40}(?![A-Za-z0-9])          # SonarQube user, project, analysis tokens
      | eyJ[A-Za-z0-9_\-]{5,}+\.eyJ[A-Za-z0-9_\-]{5,}+\.[A-Za-z0-9_\-]*+   # JWT (header.payload.signature)
    )""",
    re.VERBOSE,
)
_SECRET_PREFIXES = ("sk-", "sk_", "rk_", "gh", "github_pat_", "glpat-", "xox", "AKIA", "ASIA", "AIza", "hf_")
_SECRET_PREFIXES_MORE = ("npm_", "eyJ", "hvs.", "hvb.", "hvr.", "dckr_pat_", "pypi-", "shp", "SG.", "_v1_", "gl",
                         "ya29.", "AGE-SECRET-KEY-1", "key-", "sq")  # fmt: skip
# Searched in the lower-cased copy; the token is judged on the original.
_BEARER = re.compile(r"(?:bearer|basic|token)\s++([a-z0-9._~+/\-]{16,}+=*+)")
# An Authorization header in any syntax (HTTP, JSON, a dict, a YAML map) with any scheme ("Token", "SSWS",
# "Splunk", "ApiKey", none): whatever it carries is a credential when it reads as key material.
_AUTHORIZATION_PARAMS_START = re.compile(r"(?:proxy-)?authorization[\"']?[ \t]{0,3}[:=][ \t]{0,3}[\"']?[a-z]")
_AUTHORIZATION_LINE = 512
_AUTH_PARAM = re.compile(r"([a-z][a-z0-9_\-]{0,31}+)[ \t]{0,2}=[ \t]{0,2}[\"']?([a-z0-9._~+/\-]{16,}+=*+)")
_PUBLIC_AUTH_PARAMS = frozenset({"nonce", "cnonce", "opaque", "realm", "uri", "qop", "nc", "algorithm", "username"})
_AUTHORIZATION = re.compile(
    r"(?:proxy-)?authorization[\"']?[ \t]{0,3}[:=][ \t]{0,3}[\"']?(?:[a-z][a-z0-9_\-]{0,20}+[ \t]++)?"
    r"([a-z0-9._~+/\-]{16,}+=*+)(?![ \t]++[a-z][a-z0-9_\-]*+=)"  # not a scheme followed by its parameters
)


_MAILCHIMP_SUFFIX = re.compile(r"-us[0-9]{1,2}(?![A-Za-z0-9])")
_LOWER_HEX_32 = re.compile(r"[0-9a-f]{32}")


def _prefixed_secrets(scan: _Scan) -> Iterator[_Candidate]:
    text = scan.text
    if any(p in text for p in _SECRET_PREFIXES) or any(p in text for p in _SECRET_PREFIXES_MORE):
        for m in _PREFIXED_SECRET.finditer(text):
            if m.start() > 0 and (text[m.start() - 1].isalnum() or text[m.start() - 1] in "_-"):
                continue
            if len(set(m.group()[-16:])) > 2:  # ghp_XXXXXXXX...: a placeholder in the token's shape
                yield m.start(), m.end(), "SECRET"
    if "-us" in text:  # Mailchimp: 32 hex digits, then the data centre; found from the suffix, read back
        for m in _MAILCHIMP_SUFFIX.finditer(text):
            start = m.start() - 32
            if start >= 0 and _LOWER_HEX_32.fullmatch(text, start, m.start()) and not _word_char_before(text, start):
                yield start, m.end(), "SECRET"
    lower = scan.lower
    if "authorization" in lower:
        for m in _AUTHORIZATION.finditer(lower):
            if not _word_char_before(lower, m.start()) and _is_key_material(text[m.start(1) : m.end(1)]):
                yield m.start(1), m.end(1), "SECRET"
        # Schemes with parameters (Digest response=..., AWS4-HMAC-SHA256 Signature=...): each value that is key
        # material, on the header's line, but the ones every request shows (nonces, realm, uri).
        scanned = 0  # each character is scanned for parameters once, however many headers share a line
        for h in _AUTHORIZATION_PARAMS_START.finditer(lower):
            line_end = lower.find("\n", h.end(), h.end() + _AUTHORIZATION_LINE)
            stop = line_end if line_end != -1 else min(len(lower), h.end() + _AUTHORIZATION_LINE)
            for p in _AUTH_PARAM.finditer(lower, max(h.end(), scanned), stop):
                if p.group(1) not in _PUBLIC_AUTH_PARAMS and _is_key_material(text[p.start(2) : p.end(2)]):
                    yield p.start(2), p.end(2), "SECRET"
            scanned = max(scanned, stop)
    if "bearer" in lower or "basic" in lower or "token" in lower:
        for m in _BEARER.finditer(lower):
            token = text[m.start(1) : m.end(1)]
            if _word_char_before(lower, m.start()):
                continue
            # A hex bearer token is still a token (many APIs issue hex); after "token" a hex run is too often a
            # hash for that, so there only random-looking values count.
            if _is_random(token) or (not lower.startswith("token", m.start()) and _is_key_material(token)):
                yield m.start(1), m.end(1), "SECRET"


# SECRET: values assigned to names that say "secret". The keyword is found in the lower-cased copy; the rest of
# the name, the operator and the value are read from there: a quoted value up to its closing quote on the same
# line, or an unquoted run.
_SECRET_KEYWORD = re.compile(
    r"pass(?:word|wd|phrase)?(?![a-rt-z])|pwd|pw(?![a-z])|secret|token|api[_\-]?key|access[_\-]?key|auth[_\-]?key"
    r"|private[_\-]?key|credential|(?P<weak>key|psk|auth|sig(?:nature|ning)?|session(?:[_\-]?id)?|sessid|(?<![a-z])sas)(?![a-z])"
)
_SECRET_TRIGGERS = ("pass", "pw", "secret", "token", "key", "credential", "sig", "sess", "psk", "auth", "sas")
# Terraform's variable block gives the value after "{ default =" (variable "db_password" { default = "..." }).
_ASSIGNMENT = re.compile(
    r"[A-Za-z0-9_\-]{0,20}+[\"']?(?:[ \t]{0,3}\{[ \t]{0,3}default)?"
    r"(?::[ \t]{0,3}[A-Za-z_][\w.\[\]| ]{0,30}+(?==))?"  # a type annotation: webhook_secret: str = "X"
    r"[ \t]{0,3}(?::=|=>|\?=|[:=])[ \t]{0,3}"  # "?=": Make's default assignment
)
# A name that goes on past the keyword into one of these is about a secret (where it lives, how long it must be),
# not the secret: secret_name, token_path, password_min_length, api_key_id.
_ABOUT_A_SECRET = re.compile(
    r"s?[_\-]?(?:name|id|path|file|arn|ref|version|min|max|length|len|type|field|url|uri|env|count|size|hash|policy"
    r"|header|param|prefix|label|format|pattern|regex|column|title|placeholder|hint|prompt|description|var|attr"
    r"|option|source|store|provider|mode|expiry|expires|ttl|timeout|lifetime|scope|endpoint|host|port|service"
    r"|kind|algorithm|strength|rules?|validator|reset|strategy|location|encryption|hashing|hasher|cipher|method"
    r"|digest|rounds|complexity|history|age|reuse|expiration|lockout|entry|entries|variables?)(?![a-z])"
)
_UNQUOTED_VALUE = re.compile(r"[^\s\"'`,;)\]}>]{1,256}+")
# A semicolon inside a bare value ("password=tidal;wave;5 dbname=wh"): the part after it belongs to the value
# unless it is the next setting (";Database=crm") or a call; at most a few parts, each bounded.
_SEMICOLON_PART = re.compile(r";[^\s\"'`,;=(){}\[\]<>]{1,64}+")
_MAX_SEMICOLON_PARTS = 4


def _through_semicolons(text: str, end: int) -> int:
    """Where a bare value ending at ``end`` really ends, taking in the parts a semicolon joins to it."""
    for _ in range(_MAX_SEMICOLON_PARTS):
        part = _SEMICOLON_PART.match(text, end)
        if not part or text.startswith(("=", "("), part.end()):
            break
        end = part.end()
    return end


_QUERY_NAME_BEFORE = re.compile(r"[?&#][A-Za-z0-9_.\-]{0,40}$")  # the keyword is a query parameter's name
_CMDLET = re.compile(r"[A-Z][A-Za-z]{1,20}+-[A-Z][A-Za-z]{1,40}+")  # PowerShell's Verb-Noun: a call
_YAML_TAG = re.compile(r"![A-Za-z_][A-Za-z0-9_:\-]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# An XML element named for a secret (Maven's settings.xml, .NET configs): <password>X</password>.
_XML_SECRET = re.compile(
    r"<(?<![\w<]<)[a-z_:\-]{0,30}?(?:password|passwd|pwd|passphrase|secret|token|api[_\-]?key|credential)"
    r"([a-z_\-]{0,20}+)>([^<>\n]{1,256}+)</"
)
# A line that is a name and a value apart by blanks and nothing more: redis.conf's "requirepass X", keepalived's
# "auth_pass X", a table printed by a CLI ("password    X"), ipsec.secrets' ": PSK "X"", a diff line.
_SPACED_SETTING = re.compile(
    r"^[ \t]{0,16}+(?:[\-+:][ \t]{0,3})?([A-Za-z_][A-Za-z0-9_.\-]{0,40}+)[ \t]++"
    r"(\"[^\"\n]{1,128}+\"|'[^'\n]{1,128}+'|[^\s\"']{1,128}+)[ \t]*+$",
    re.MULTILINE,
)
# An XML element whose key or name attribute names a secret: <entry key="db.password">X</entry>,
# <property name="...password">X</property>, <add key="ApiToken" value="X"/>.
_XML_NAMED_SECRET = re.compile(
    r"(?<![a-z0-9_\-])(?:key|name)[ \t]{0,2}=[ \t]{0,2}[\"']([a-z0-9_.:\-]{1,80}+)[\"']"
    r"(?:[ \t]{1,3}value[ \t]{0,2}=[ \t]{0,2}[\"']([^\"'\n]{1,256}+)[\"']|[^<>\n]{0,80}+>([^<>\n]{1,256}+)</)"
)
_MAX_QUOTED_SECRET = 256
_PLACEHOLDER_VALUES = frozenset({"none", "null", "nil", "true", "false", "undefined", "required", "optional"})


def _assigned_secrets(scan: _Scan) -> Iterator[_Candidate]:
    text, lower = scan.text, scan.lower
    if not any(k in lower for k in _SECRET_TRIGGERS):
        return
    if "<" in text:
        for m in _XML_SECRET.finditer(lower):
            about = _ABOUT_A_SECRET.match(m.group(1))  # <passwordPolicy>, <tokenUrl>: about one, not one
            if not about and _looks_like_secret_value(text[m.start(2) : m.end(2)], quoted=False):
                yield m.start(2), m.end(2), "SECRET"
        if "key" in lower or "name" in lower:
            for m in _XML_NAMED_SECRET.finditer(lower):
                group = 2 if m.group(2) is not None else 3
                if _names_a_secret(m.group(1)) is not None and _looks_like_secret_value(
                    text[m.start(group) : m.end(group)], quoted=False, literal=True
                ):
                    yield m.start(group), m.end(group), "SECRET"
    for m in _spaced_settings(text, lower):
        name = lower[m.start(1) : m.end(1)]
        value, start, end = m.group(2), m.start(2), m.end(2)
        if value[0] in "\"'":
            value, start, end = value[1:-1], start + 1, end - 1
        weak = _names_a_secret(name)
        if weak is None:
            continue
        if (
            _is_key_material(value)
            or _is_gibberish(value)
            or (_is_complex_password(value) if weak else _looks_like_secret_value(value, quoted=False, literal=True))
        ):
            yield start, end, "SECRET"
    if "(" in text:
        yield from _setter_secrets(text, lower)
        if "values" in lower:
            yield from _inserted_secrets(text, lower)
    if "\n" in text and any(w in lower for w in _PRINTS_A_SECRET_TRIGGERS):
        for m in _PRINTS_A_SECRET.finditer(lower):
            value = text[m.start(1) : m.end(1)]
            if _looks_like_secret_value(value, quoted=False, literal=True) or _is_key_material(value):
                yield m.start(1), m.end(1), "SECRET"
    if "${" in text:
        for m in _SHELL_DEFAULT.finditer(lower):
            value = text[m.start(2) : m.end(2)]
            if _names_a_secret(m.group(1)) is False and _looks_like_secret_value(value, quoted=False, literal=True):
                yield m.start(2), m.end(2), "SECRET"
    sealed = "encrypteddata:" in lower
    done = 0
    for k in _SECRET_KEYWORD.finditer(lower):
        if k.start() < done:
            continue
        a = _ASSIGNMENT.match(text, k.end())
        if not a or _ABOUT_A_SECRET.match(lower, k.end()):
            continue
        if sealed and _in_ciphertext(lower, k.start()):
            continue
        i = a.end()
        if i < len(text) and text[i] in "\"'`":
            quote = text[i]
            close = text.find(quote, i + 1, i + 2 + _MAX_QUOTED_SECRET)
            if close == -1 or text.find("\n", i + 1, close) != -1:
                continue
            if quote == "'" and text[close + 1 : close + 2].isalnum():
                close = _apostrophe_close(text, close)  # 'it's-raining-72': the quote that ends the line
            start, end, quoted = i + 1, close, True
        elif (call := _CALL_START.match(text, i)) and not k.group("weak") and not text[a.start()].isalnum():
            # Only when the name ends in the keyword: "tokenizer = AutoTokenizer.from_pretrained('bert')" is not.
            literal = _literal_in_call(text, call)
            if literal:
                done = literal[1]
                yield (*literal, "SECRET")
            continue
        else:
            v = _UNQUOTED_VALUE.match(text, i)
            if not v:
                continue
            start, end, quoted = v.start(), v.start() + len(v.group().rstrip(".,:;?")), False  # "!" often ends one
            if end == v.end():
                end = _through_semicolons(text, end)
            amp = text.find("&", start, end)
            if amp != -1 and _QUERY_NAME_BEFORE.search(text, max(0, k.start() - 48), k.start()):
                end = amp  # ?api_key=X&limit=100: the parameter ends at "&"
        # A name that only ends in "key" or "signature" (AccountKey, x-functions-key, sig) names anything from a
        # dict key to a sort key, so there the value itself must be key material.
        value = text[start:end]
        if k.group("weak"):
            # MASTER_KEY = "Jv4M@ster!2024": a quoted password's shape with a symbol no shortcut or path has
            ok = _is_key_material(value) or (quoted and _is_keyed_password(value))
        else:
            ok = _looks_like_secret_value(value, quoted=quoted, literal=_literal_syntax(text, k.start(), a))
        if ok:
            done = end
            yield start, end, "SECRET"


def _in_ciphertext(lower: str, i: int) -> bool:
    """Whether ``i`` is under a Sealed Secret's ``encryptedData:`` (ciphertext, safe to commit)."""
    return lower.rfind("encrypteddata:", max(0, i - _CIPHERTEXT_WIDTH), i) != -1


def _apostrophe_close(text: str, close: int) -> int:
    """Where a single-quoted value that holds an apostrophe ends: the last quote on its line before a comment
    (bounded), else the first quote."""
    first = close
    eol = text.find("\n", first, first + _MAX_QUOTED_SECRET)
    line = text[first + 1 : eol if eol != -1 else min(len(text), first + _MAX_QUOTED_SECRET)]
    comment = line.find(" #")
    line = (line[:comment] if comment != -1 else line).rstrip()
    return first + 1 + len(line) - 1 if line.endswith("'") and " " not in line else first


# A call assigned to a name that says secret: String::from("X"), SecretStr("X"), ENV.fetch("DB_PASSWORD", "X").
_CALL_START = re.compile(r"(?:new[ \t]{1,3})?[A-Za-z_][A-Za-z0-9_.:]{0,60}+\([ \t]{0,3}")
# A call that sets a secret: keyring.set_password("svc", "bob", "X"), .password("X"), setApiToken("X").
_SETTER_CALL = re.compile(r"(?:password|passwd|passphrase|secret|token|api_?key)[ \t]{0,2}\([ \t]{0,3}")
_CALLEE_CHARS = frozenset(string.ascii_lowercase + string.digits + "_.")
_MAX_CALLEE = 40
_GETTER_WORDS = re.compile(
    r"get|read|load|fetch|delete|del_|remove|prompt|ask|input|env|hash|verify|check|valid|is_|has_|reset|generate"
    r"|gen_|random|find|lookup|clear|forget|require|path|open|file"
)
# A look-up's fallback written after its call: .unwrap_or("X"), .or("X"), getOrElse("X"), or "X", || "X", ?? "X".
_FALLBACK = re.compile(
    r"""['"]\)[ \t]{0,3}(?:\.(?:unwrap_or|or|get_or|or_else|getOrElse|orElse)\([ \t]{0,3}|(?:\|\||\?\?|or)[ \t]{1,3})"""
    r"""(?:'([^'\n]{1,256}+)'|"([^"\n]{1,256}+)")"""
)
_LOOKUP_CALLS = re.compile(r"(?i)fetch|get|env|default|setdefault")
_MAX_CALL_ARGUMENTS = 4
_CALL_ARGUMENT = re.compile(r"""'([^'\n]{1,256}+)'|"([^"\n]{1,256}+)"|[^,()'"\n]{0,128}+""")
_ARGUMENT_SEPARATOR = re.compile(r"[ \t]{0,3},[ \t]{0,3}")


def _call_arguments(text: str, i: int) -> list[tuple[int, int, bool]]:
    """The first arguments of a call whose parenthesis opened before ``i``: (start, end, is a string literal),
    read left to right once, stopping at a nested call."""
    args: list[tuple[int, int, bool]] = []
    for _ in range(_MAX_CALL_ARGUMENTS):
        m = _CALL_ARGUMENT.match(text, i)
        if not m:
            break
        group = m.lastindex
        args.append((m.start(group), m.end(group), True) if group else (m.start(), m.end(), False))
        sep = _ARGUMENT_SEPARATOR.match(text, m.end())
        if not sep or not sep.group().strip():
            break
        i = sep.end()
    return args


_FILE_NAME = re.compile(
    r"[\w\-./~]{0,200}+\.(?:txt|key|pem|json|ya?ml|env|cfg|conf|ini|toml|secrets?|pass|pw|crt|gpg|asc|kdbx|p12|pfx)"
)


def _call_literal_ok(value: str) -> bool:
    """A string literal handed to a call that is a secret: not an environment variable's name, a prompt, a word,
    a file's name, a name such as "backend-api-key"."""
    if " " in value or _METAVAR.fullmatch(value) or not _looks_like_secret_value(value, quoted=True):
        return False
    if _FILE_NAME.fullmatch(value) or value.startswith(("/", "./", "~/")) or _names_itself(value):
        return False
    return not value.isalpha() or _is_gibberish(value)


_NAME_PARTS = frozenset({"key", "token", "secret", "password", "passwd", "pass", "api", "auth", "credential",
                         "credentials", "pw", "pwd"})  # fmt: skip


def _names_itself(value: str) -> bool:
    """Lower-case words joined by "-", "_" or ".", one of them a secret's name: the name of an entry or a field
    ("backend-api-key", "db.password"), not a secret."""
    parts = re.split(r"[\-_.]", value)
    return value.islower() and all(p.isalpha() for p in parts) and bool(_NAME_PARTS.intersection(parts))


def _password_shaped(value: str) -> bool:
    """Mixed like a password or random like a key, not punctuation or a word (".:!?-", "o(oayays)" fail)."""
    return _is_complex_password(value) or _is_key_material(value) or _is_gibberish(value) or _is_passphrase(value)


def _literal_in_call(text: str, call: re.Match[str]) -> _Span | None:
    """The secret a call assigned to a secret's name gives: a look-up's default (the literal after the name it
    looks up), or a wrapped literal (String::from("X"))."""
    args = _call_arguments(text, call.end())
    literals = [(s, e) for s, e, is_literal in args if is_literal]
    if not literals:
        return None
    if _LOOKUP_CALLS.search(call.group()):
        if len(args) == 1 and args[0][2] and (fallback := _FALLBACK.match(text, args[0][1])):
            group = fallback.lastindex or 1  # env::var("TOKEN").unwrap_or("X"), getenv("T") or "X"
            s, e = fallback.start(group), fallback.end(group)
            return (s, e) if _call_literal_ok(text[s:e]) and _password_shaped(text[s:e]) else None
        if len(args) < 2 or not args[1][2]:
            return None
        s, e, _ = args[1]
        return (s, e) if _call_literal_ok(text[s:e]) else None
    s, e, literal = args[0]
    if not literal or _GETTER_WORDS.search(call.group().lower()):
        return None
    return (s, e) if _call_literal_ok(text[s:e]) and _password_shaped(text[s:e]) else None


# SQL: INSERT INTO users (name, password) VALUES ('bob', 'X'): the literal in the password column's place.
_INSERT_COLUMNS = re.compile(r"\(([a-z0-9_,`\"\[\] \t]{1,256}+)\)[ \t\n]{0,8}values[ \t\n]{0,8}\(")
# A command that prints a secret, and the line it printed: ... | base64 -d, vault kv get -field=password,
# pass show, op read, security find-generic-password -w; the output is the next line, one token.
_PRINTS_A_SECRET = re.compile(
    r"(?:base64[ \t]{1,3}(?:-d|--decode|-D)|-field=[a-z_]{0,20}+|pass[ \t]{1,3}show|op[ \t]{1,3}read"
    # echo $DB_PASSWORD, printenv API_TOKEN: a variable named for a secret, printed; cat of a file named for one
    r"|(?:echo[ \t]{1,3}[\"']?\$\{?|printenv[ \t]{1,3})[a-z0-9_]{0,40}+(?<=pass|word|_pwd|cret|oken|_key)"
    r"\}?[\"']?[ \t]*+(?=\n)"
    r"|cat[ \t]{1,3}[^\s|;&<>]{0,120}+"
    r"(?:(?<=pass|word|_pwd|cret|oken|_key)|(?<=pass\.txt|word\.txt|oken\.txt|cret\.txt))"
    r"[ \t]*+(?=\n)"
    r"|find-generic-password[^\n]{0,120}+-w|get-secret-value|secrets[ \t]{1,3}versions[ \t]{1,3}access)"
    r"[^\n]{0,120}+\n[ \t]{0,8}+([^\s]{6,128}+)[ \t]*+(?:\n|$)"
)


_PRINTS_A_SECRET_TRIGGERS = ("base64", "-field=", "show", "read", "find-generic", "get-secret", "versions", "echo",
                             "printenv", "cat")  # fmt: skip
# A shell default inside a value: ${POSTGRES_PASSWORD:-localdev99}: the default is the secret when the variable
# names one.
_SHELL_DEFAULT = re.compile(r"\$\{([a-z_][a-z0-9_]{0,60}+):?[\-=]([^{}\s\"'$]{1,128}+)\}")
# A Sealed Secret holds ciphertext under encryptedData: (safe to commit), not a secret in the clear.
_CIPHERTEXT_WIDTH = 512
_SETTING_KEYWORD = re.compile(r"pass|pw|secret|token|key|credential|auth|psk|sig")
_SETTING_NAME_WIDTH = 64


def _spaced_settings(text: str, lower: str) -> Iterator[re.Match[str]]:
    """The "name value" lines whose first word holds a secret's keyword (each line tried once)."""
    tried = -1
    for k in _SETTING_KEYWORD.finditer(lower):
        line_start = lower.rfind("\n", max(0, k.start() - _SETTING_NAME_WIDTH), k.start()) + 1
        if line_start == 0 and k.start() > _SETTING_NAME_WIDTH:
            continue  # too far into a long line to be its first word
        if line_start <= tried:
            continue
        tried = line_start
        m = _SPACED_SETTING.match(text, line_start)
        if m:
            yield m


def _inserted_secrets(text: str, lower: str) -> Iterator[_Candidate]:
    for m in _INSERT_COLUMNS.finditer(lower):
        columns = [c.strip(' \t`"[]') for c in m.group(1).split(",")]
        wanted = [n for n, c in enumerate(columns) if n < _MAX_CALL_ARGUMENTS and _names_a_secret(c) is False]
        if not wanted:
            continue
        args = _call_arguments(text, m.end())
        for n in wanted:
            if n < len(args) and args[n][2] and _call_literal_ok(text[args[n][0] : args[n][1]]):
                yield args[n][0], args[n][1], "SECRET"


def _setter_secrets(text: str, lower: str) -> Iterator[_Candidate]:
    for m in _SETTER_CALL.finditer(lower):
        start = m.start()  # the callee's name, read back (bounded): keyring.set_password, builder.password
        while start > 0 and m.start() - start < _MAX_CALLEE and lower[start - 1] in _CALLEE_CHARS:
            start -= 1
        callee = lower[start : m.end()]
        if _GETTER_WORDS.search(callee) or _ABOUT_A_SECRET.search(callee):
            continue
        args = _call_arguments(text, m.end())
        if args and args[-1][2] and _call_literal_ok(text[args[-1][0] : args[-1][1]]):
            yield args[-1][0], args[-1][1], "SECRET"


def _names_a_secret(name: str) -> bool | None:
    """Whether a lower-cased name names a secret: None if not, else whether only weakly (a name ending in
    key, auth, psk, sig, which names many other things too)."""
    weak = None
    for k in _SECRET_KEYWORD.finditer(name):
        if _ABOUT_A_SECRET.match(name, k.end()):
            continue
        if not k.group("weak"):
            return False
        weak = True
    return weak


_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_.-")


def _literal_syntax(text: str, keyword_start: int, assignment: re.Match[str]) -> bool:
    """Whether the assignment's syntax makes a bare value a literal: a mapping's ``key: value`` (YAML, a
    header), or an upper-case ``NAME=value`` (a shell, .env, Dockerfile ENV), rather than code's ``x = y``."""
    operator = assignment.group().rstrip(" \t")[-2:]
    if operator.endswith(":") and not operator.endswith("::"):
        return True
    if not operator.endswith("=") or operator.endswith(("==", ":=", "=>")) or assignment.group().endswith(" "):
        return False
    start = keyword_start
    while start > 0 and keyword_start - start < 40 and text[start - 1] in _NAME_CHARS:
        start -= 1
    if start > 0 and text[start - 1] in "=,":
        return True  # inside a flag's value: --from-literal=password=X, -o user=u,password=X
    name = text[start : assignment.start()] + assignment.group().split("=")[0]
    return name.strip("\"' \t").isupper()


_PUBLIC_KEY_PREFIXES = ("pk_live_", "pk_test_")  # Stripe's publishable keys: public by design
_KEY_MATERIAL_CHARS = frozenset(string.ascii_letters + string.digits + "+/-_.~%")
_PADDED_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}+={1,2}")


def _is_key_material(value: str) -> bool:
    """Whether a value reads as a key, a token or a signature: 16+ characters of a key alphabet (hex, base64,
    base64url, dashed groups), at least two letters and two digits, and not a dotted or snake_case name."""
    core = value.rstrip("=")
    if len(core) < 16 or not all(c in _KEY_MATERIAL_CHARS for c in core) or core.startswith(_PUBLIC_KEY_PREFIXES):
        return False
    if _PADDED_BASE64.fullmatch(value) and len(value) % 4 == 0 and not core.isalpha():
        return core.lower() != core and core.upper() != core  # base64 with its padding: "bnBtdXNlcjpw...OTk="
    if sum(c.isdigit() for c in core) < 2 or sum(c.isalpha() for c in core) < 2:
        return False
    if _IDENTIFIER.fullmatch(core) and ("_" in core or "." in core):
        return not all(part.isalpha() or part.isdigit() for part in re.split(r"[._]", core))  # a_name.like_this
    return True


def _is_keyed_password(value: str) -> bool:
    """A literal given to a name that only ends in "key" that is a password: mixed case, digits and a symbol
    other than "+" or "=" (not "Ctrl+Shift+K1", a shortcut)."""
    symbols = any(c in _PASSWORD_SYMBOLS and c not in "+=" for c in value)
    return symbols and " " not in value and _is_strong_password(value) and _is_complex_password(value)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _looks_like_secret_value(value: str, *, quoted: bool, literal: bool = False) -> bool:
    """Whether an assigned value is a real secret rather than code, a template, a type, a placeholder or a
    reference to where the secret is kept. ``literal``: the syntax makes a bare value a literal (YAML's
    ``key: value``, a shell's ``NAME=value``), so a bare word there is not a variable of the program."""
    if len(value) < (4 if quoted else 6) or value.lower() in _PLACEHOLDER_VALUES or _is_number(value):
        return False
    if _is_reference_or_placeholder(value, quoted=quoted):
        return False
    if (
        (value[0] in "$%{<*[#(?" and not _symbol_led(value))
        or "..." in value
        or len(set(value)) <= 2
        or _MASK.search(value)
    ):
        return False  # ${VAR}, %s, {{ x }}, <token>, ****, [SECRET], #comment, xxxxxx, ${VAR:?message}, ghp_****
    if _names_itself(value):
        return False  # existingSecret: postgres-credentials: the name of a secret object, not its value
    if not quoted and value[0] in "-+":
        return False  # ${VAR:-default}, ${VAR:+alt}, a flag
    if value.startswith(("os.", "process.env", "env.", "getenv", "self.", "config.", "settings.")):
        return False
    if quoted:
        return " " not in value.strip() or len(value) >= 12
    if value.startswith(("~/", "./", "../")) or (value[0] == "/" and _PATH_SEGMENT.fullmatch(value[1:].split("/")[0])):
        return False  # where the secret is kept (~/.aws/credentials, /run/secrets/db), not the secret
    if "(" in value or "[" in value or _YAML_TAG.fullmatch(value) or _CMDLET.fullmatch(value):
        return False  # a call or a subscript: code, not a value; a YAML tag (!vault, !Ref) names where it is
    if _IDENTIFIER.fullmatch(value):
        # An identifier is a variable name unless it mixes letters and digits without underscores or dots
        # ("hunter2"); "get_token", "args.password", "Optional" are code. Upper and lower case and a digit
        # together are a password's rule, not a naming style ("Tr1cky_Yaml", not "user_pass2" or "s3_key").
        # Letters no language writes (iuhcdpnqbg, bLjQVNqDvdz) are generated, not named.
        if _is_gibberish(value):
            return True
        if "." in value:  # a module path (rust_openssl.hpke.X25519Key) is code; tigerHARBOR0.cop is not
            head = value.split(".")[0]
            module = head.replace("_", "").isalpha() and head.islower()
            return (_is_complex_password(value) and not module) or (literal and _is_passphrase(value))
        digits = any(c.isdigit() for c in value)
        if literal and (digits or _is_passphrase(value)):
            return True
        return digits and ("_" not in value or (value.lower() != value and value.upper() != value))
    return True


# Where a secret is kept or how to fetch it, not the secret: 1Password, Vault, AWS/GCP/Azure references, a file.
_REFERENCE_PREFIXES = ("op://", "vault:", "vault://", "ref+", "arn:", "ssm:", "sm://", "secretsmanager:", "gcp:",
                       "azurekeyvault:", "keyvault:", "env:", "file:", "secret://", "enc[")  # fmt: skip
# Placeholder words as whole parts of a value: your-api-key-here, <insert token>, CHANGE_ME, xxxx-xxxx, dummy.
_PLACEHOLDER_PART = re.compile(
    r"(?<![a-z0-9])(?:your|insert|replace|placeholder|redacted|dummy|changeme|change[_\-]me|todo|fixme|here"
    r"|xxx++|example|sample)(?![a-z0-9])"
)


def _symbol_led(value: str) -> bool:
    """A password that starts with a symbol (?W^.B780N0, $ecret2024!, *Kq7!pz): the rest is shaped by password
    rules and is no variable's name (not $DB_PASS2, %s, ${X}, *args)."""
    rest = value[1:]
    return (
        value[0] in "$%*#?"
        and _is_complex_password(rest)
        and not _IDENTIFIER.fullmatch(rest)
        and not any(c in value for c in "{}()<>[]")
    )


def _is_reference_or_placeholder(value: str, *, quoted: bool) -> bool:
    low = value.lower()
    if "://" in low or low.startswith(_REFERENCE_PREFIXES) or _PLACEHOLDER_PART.search(low):
        return True
    if _SECRET_PATH.fullmatch(low) and ("/data/" in low or ":" in low or "#" in low or low.startswith("secret")):
        return True
    return not quoted and low[0] == "@" and ("." in low or "/" in low)  # @file: read the secret from a file


_MASK = re.compile(r"\*{3}|•{3}|●{3}")  # a masked value: ghp_****, sk-...••••
# A secret store's path (secret/data/db:password, kv/prod/app#token): where a secret is, not one.
_SECRET_PATH = re.compile(r"[a-z][a-z0-9_\-]{0,40}+(?:/[a-z0-9_\-]{1,40}+){2,8}+(?:[:#][a-z_\-]{1,40}+)?")
_VOWELS = frozenset("aeiouy")
# The letter pairs that make up most English (and most identifiers' words); letters drawn at random mostly pair
# otherwise.
_BIGRAM_LIST = (
    "th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri ro"
    " ic ne ea ra ce li ch ll be ma si om ur ca el ta la ns di fo ho pe ec pr no ct us ac ot il tr ly nc et ut ss so"
    " rs un lo wa ge ie wh ee wi em ad ol rt po we na ul ni ts mo ow pa im mi ai sh ir su id os iv ia am fi ci vi pl"
    " ig tu ev ld ry mp fe bl ab gh ty op wo sa ay ex ke fr oo av ag if ap gr od bo sp rd do uc bu ei ov by rm ep tt"
    " oc fa ef cu rn sc gi da yo cr cl du ga qu ue ff ba ey ls va um pp ua up lu go ht ru ug ds lt pi rc rr eg au ck"
    " ew mu br bi pt ak pu ui rg ib tl ny ki rk ys ob mm fu ph og ms ye ud mb ip ub oi rl gu dr hr cc tw ft wn nu af"
    " hu nn eo vo rv nf xp gn sm fl iz ok nl my gl aw ju oa eq sy sl ps jo lf nv je nk kn gs dy hy ze ks xt bs ik dd"
    " cy rp sk xi oe oy ws lv dl rf eu dg wr xa yi nm eb rb tm xc eh tc gy ja hn yp za ax xe ix zi"
)
_COMMON_BIGRAMS = frozenset(_BIGRAM_LIST.split())


def _is_gibberish(value: str) -> bool:
    """Letters drawn at random rather than words: few vowels or a long consonant run (iuhcdpnqbg, syzmdkio),
    or case flipping at random (bLjQVNqDvdz), not camelCase words (getPasswordHash)."""
    if len(value) < 8 or not value.isalpha() or not value.isascii() or len(set(value)) <= 3:
        return False
    low = value.lower()
    if sum(c in _VOWELS for c in low) <= 0.15 * len(low):
        return True
    pairs = [low[i : i + 2] for i in range(len(low) - 1)]
    if sum(p not in _COMMON_BIGRAMS for p in pairs) >= 0.4 * len(pairs):
        return True
    flips = sum(1 for a, b in itertools.pairwise(value) if a.isupper() != b.isupper())
    return flips >= 4 and sum(len(w) for w in _WORDISH.findall(value)) < 0.6 * len(value)


def _is_passphrase(value: str) -> bool:
    """Three or more lowercase words joined by one separator (lantern_granite_maple, saffron.bramble.orbit)."""
    for sep in "_.-":
        parts = value.split(sep)
        if len(parts) >= 3 and len(value) >= 14 and all(p.isalpha() and p.islower() for p in parts):
            return True
    return False


# SECRET: long high-entropy strings (base64 / base62 alphabets) that no other rule explained.
_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/_\-]{20,}+=*+")
_HEX_ONLY = re.compile(r"[0-9A-Fa-f_\-]+")
_PATH_SEGMENT = re.compile(r"[a-z][a-z_\-]{2,}")  # a lowercase word: a directory name, not base64
_MIN_RANDOM_LEN = 20
# A value named as a hash or digest ("contentHash": "...", checksum=...): a public fingerprint of data.
_HASH_NAME_BEFORE = re.compile(
    r"(?:hash|digest|checksum|sha[0-9]{0,3}|md5|integrity|etag|fingerprint)[\"']?[ \t]{0,3}[:=][ \t]{0,3}[\"']?$"
)
_SOPS_WIDTH = 512
_INTEGRITY_PREFIXES = ("sha1-", "sha256-", "sha384-", "sha512-", "sha256_", "sha512_")


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


_CLASS_RUN = re.compile(r"[0-9]+|[A-Z]+|[a-z]+|[^0-9A-Za-z]+")
_WORDISH = re.compile(r"[A-Z]?[a-z]{3,}+")
_WORDISH_SHARE = 0.7


def _is_random(s: str) -> bool:
    """Whether ``s`` reads as machine randomness: all three character classes, high entropy, and the class
    changing often (camelCase identifiers and words change class rarely)."""
    s = s.rstrip("=")
    n = len(s)
    if n < _MIN_RANDOM_LEN or _HEX_ONLY.fullmatch(s) or s.isalpha() or s.isdigit():
        return False
    if s.islower() or s.isupper() or not any(c.isdigit() for c in s):
        return False
    changes = len(_CLASS_RUN.findall(s)) - 1
    if sum(len(w) for w in _WORDISH.findall(s)) >= _WORDISH_SHARE * n:
        return False  # mostly words run together: an identifier (Argon2PasswordHasher), not randomness
    return changes >= 0.3 * (n - 1) and _entropy(s) >= min(4.0, 0.8 * math.log2(n))


# Public material in base64 is not a secret: certificate and public key blocks, OpenSSH public keys.
_PUBLIC_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ ){0,3}(?:CERTIFICATE(?: REQUEST)?|PUBLIC KEY)-----")
_PUBLIC_END = re.compile(r"-----END (?:[A-Z0-9]+ ){0,3}(?:CERTIFICATE(?: REQUEST)?|PUBLIC KEY)-----")
_SSH_PUBLIC_KEY_TYPE = re.compile(r"(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp[0-9]{3}|sk-ssh-ed25519@openssh\.com) $")


def _public_blocks(text: str) -> list[_Span]:
    """Spans of certificate and public key blocks, BEGIN paired with the next END (one pass over each)."""
    if "-----BEGIN" not in text:
        return []
    ends = [m.end() for m in _PUBLIC_END.finditer(text)]
    blocks: list[_Span] = []
    k = 0
    for m in _PUBLIC_BEGIN.finditer(text):
        while k < len(ends) and ends[k] <= m.end():
            k += 1
        if k < len(ends) and (not blocks or m.start() >= blocks[-1][1]):
            blocks.append((m.start(), ends[k]))
    return blocks


def _random_tokens(scan: _Scan) -> Iterator[_Candidate]:
    text = scan.text
    if max(map(len, text.split()), default=0) < _MIN_RANDOM_LEN:
        return
    public = _public_blocks(text)
    sealed = "encrypteddata:" in scan.lower
    b = 0
    for m in _TOKEN.finditer(text):
        while b < len(public) and public[b][1] <= m.start():
            b += 1
        if b < len(public) and public[b][0] <= m.start():
            continue  # inside a certificate or public key
        token = m.group()
        if token.startswith(_INTEGRITY_PREFIXES) or _before(text, m.start(), 7) == "base64,":
            continue  # subresource-integrity hashes and inline data are public, not keys
        if _HASH_NAME_BEFORE.search(_before(scan.lower, m.start(), 32)):
            continue  # "contentHash": "...", etag=..., a digest named as one
        if token.startswith(_PUBLIC_KEY_PREFIXES):
            continue  # Stripe's publishable keys are public by design
        sops = text.rfind("ENC[", max(0, m.start() - _SOPS_WIDTH), m.start())
        if sops != -1 and "]" not in text[sops : m.start()]:
            continue  # inside sops' ENC[AES256_GCM,data:...,iv:...,tag:...]: ciphertext, not a key
        if sealed and _in_ciphertext(scan.lower, m.start()):
            continue  # a Sealed Secret's encryptedData
        if _SSH_PUBLIC_KEY_TYPE.search(_before(text, m.start(), 40)):
            continue
        segments = token.split("/")
        if len(segments) > 1 and any(_PATH_SEGMENT.fullmatch(seg) for seg in segments if seg):
            pos = m.start()  # a path: judge each segment on its own
            for seg in segments:
                if _is_random(seg):
                    yield pos, pos + len(seg), "SECRET"
                pos += len(seg) + 1
        elif _is_random(token):
            yield m.start(), m.end(), "SECRET"


# SECRET: passwords stated in prose. A password word, maybe a few words ("the password for the shared mailbox",
# "the API token I'm using"), a link ("is", "'s", "was", "is now", "set to", ":"), then the value, which must
# look like a password (digits and letters, a symbol, quotes, or passphrase length), so "the password is
# required" stays.
# Other languages' words for a password: German, French, Spanish, Portuguese, Dutch, Swedish, Polish, Russian;
# then Turkish, Czech, Indonesian, Vietnamese, Japanese, Norwegian, Danish, Finnish, Hungarian, Greek and Dutch "ww"
# (only before a colon), whose bare form is looked for only where one of their triggers occurs.
_EUROPEAN_LOGIN_WORDS = (
    r"passwort|kennwort|mot[ \t]de[ \t]passe|mdp|contrase(?:ñ|n)a|clave|senha|wachtwoord|l(?:ö|o)senord(?:et)?"
    r"|parola[ \t]d['\u2019]accesso|has(?:ł|l)o|пароль"
)
_MORE_LOGIN_WORDS = (
    r"(?:ş|s)ifre(?:si|niz|m)?|heslo|kata[ \t]sandi|m(?:ậ|a)t[ \t]kh(?:ẩ|a)u|パスワード|ww(?=[ \t]{0,3}:)"
    r"|passord(?:et)?|adgangskode(?:n)?|salasana|jelsz(?:ó|o)|κωδικός"  # Norwegian, Danish, Finnish, Hungarian, Greek
)
_MORE_LOGIN_TRIGGERS = ("ifre", "heslo", "sandi", "khẩu", "khau", "パスワード", "ww:", "ww :", "passord", "adgangskode",
                        "salasana", "jelsz", "κωδικός")  # fmt: skip
# Chinese, Japanese and Korean write the link and the value without a space: 密码是abc123, 비밀번호는 X.
_CJK_TRIGGERS = ("密码", "密碼", "口令", "パスワード", "비밀번호", "암호")
_CJK_STATED = re.compile(rf"(?:{'|'.join(_CJK_TRIGGERS)})[ \t]{{0,3}}(?:是|为|為|は|는|은|:|：)[ \t]{{0,3}}")
_ASCII_VALUE = re.compile(r"[!-~]{4,128}+")
_FOREIGN_LOGIN_WORDS = _EUROPEAN_LOGIN_WORDS + "|" + _MORE_LOGIN_WORDS
_STATED_WORD = (
    r"(?<![a-z0-9])"  # after "_" too: SECRET_KEY, db_password (the word may end a snake_case name)
    r"(?:pass(?:word|wd|phrase)?|(?P<code>passcode)|pw|pwd|secret|auth[ \t]string|(?P<auth>auth)|"
    + _FOREIGN_LOGIN_WORDS
    + r"|(?P<pin>pin)|(?P<weak>token|key|seed|schl(?:ü|ue)ssel|sleutel))(?![a-z0-9_\-])"
    r"[?!]{0,3}"  # "password?? it's X"
)
# The copula in the languages above: "das Passwort ist X", "c'est X", "la contraseña es X", "a senha é X".
# And "je"/"jest" (Czech, Polish), "là" (Vietnamese), "är" (Swedish), "adalah" (Indonesian), "er" (Norwegian,
# Danish), "είναι" (Greek).
_COPULA = r"is|was|are|were|it['\u2019]s|ist|lautet|est|c['\u2019]est|es|era|é|è|war|je|jest|là|är|adalah|er|είναι"
_STATED_GAP = (
    r"(?:[ \t]{1,3}(?:[\w'.,\-]{1,24}+|\([^()\n]{1,60}+\))){1,5}?"  # words, or an aside: "(yes the real one)"
    r"(?=[ \t]*(?::|\?|(?:" + _COPULA + r")(?![a-z0-9_]))|['\u2019]s\b)"
)
_STATED_LINK = (
    r"(?:[ \t]{0,3}:|(?:['\u2019]s|[ \t]{1,3}(?:" + _COPULA + r"))"
    r"(?:[ \t]{1,3}(?:now|still|(?P<plain>just|literally|simply)|actually|probably|currently|both|set[ \t]{1,3}to"
    r"|(?P<spelled>the[ \t]{1,3}(?:word|string))"
    r"|(?:changed|reset|updated)[ \t]{1,3}to|maintenant|jetzt|nun|ahora|agora|ora|nu))?"
    # "got reset to X", "has been changed to X", German "pw auf X" (geändert), "パスワードは X"
    r"|[ \t]{1,3}(?:now|(?:(?:got|has[ \t]{1,3}been|been)[ \t]{1,3})?(?:set|changed|reset|updated)[ \t]{1,3}to|to|auf)"
    r"|[ \t]{0,3}(?:->|=>|\?|：)|は)[ \t]{1,3}"
)
_STATED_KEYWORD = re.compile(_STATED_WORD)
# What a password of digits alone protects ("the password for the zip is 8812"): a PIN's shape is its password.
_LOCKED_THING = re.compile(
    r"(?<![a-z])(?:zip|archive|pdf|rar|7z|door|safe|lock|locker|phone|sim|voicemail|bios|keypad)"
)
# "the password you gave me, ocelot77, works": the value set off by commas after the words about it; only a
# password word (a PIN or a key here is too often a version or a name), and a value the commas close.
_STATED_APPOSITIVE = re.compile(
    r"(?<![a-z0-9])pass(?:word|wd|phrase)(?![a-z0-9_\-])(?:[ \t]{1,3}[\w']{1,24}+){1,5}?[ \t]{0,3},[ \t]{1,3}"
)
# Tried without the words first ("the password is X"), and where that value fails, with them from the same
# start ("the password to the zip is X"): so neither reading hides the other, and each start is tried twice.
_STATED_SECRET = re.compile(_STATED_WORD + _STATED_LINK)
_STATED_SECRET_AFTER_WORDS = re.compile(_STATED_WORD + ",?" + _STATED_GAP + _STATED_LINK)  # "my password, which is X"
# A wireless network's key: "SSID "Cafe", key espresso21", "the wifi key is blue-tractor-ocean-lamp", "WLAN
# password: X". The network word comes first, the key word a few words later (bounded).
_WIFI_WORDS = ("wifi", "wi-fi", "wlan", "ssid", "wpa", "wireless", "hotspot")
_WIFI_KEY = re.compile(
    rf"(?<![a-z])(?:{'|'.join(_WIFI_WORDS)})(?![a-z])[^\n]{{0,48}}?"
    r"(?<![a-z0-9_\-])(?:key|psk|passphrase|password|pass|pw)(?![a-z0-9_\-])"
    r"(?:[ \t]{0,3}[:=]|[ \t]{1,3}(?:is|was))?[ \t]{1,3}"
)
# A well-known account and its password as one token in prose: "root:toor on the kali vm", "pi:raspberry".
_DEFAULT_ACCOUNT_NAMES = ("root", "admin", "administrator", "pi", "kali", "vagrant", "sa", "guest", "ftp", "anonymous")
_DEFAULT_ACCOUNTS = tuple(f"{name}:" for name in _DEFAULT_ACCOUNT_NAMES)
_DEFAULT_ACCOUNT_PAIR = re.compile(
    rf"(?<![\w/.:@\-'\"`])(?:{'|'.join(_DEFAULT_ACCOUNT_NAMES)})"
    r":([^\s:@/'\"`,;()\[\]{}<>]{3,64}+)(?![\w:@/'\"`])"  # not quoted: reverse("admin:index") is a route
)
_STATED_TRIGGERS = ("pass", "pw", "secret", "token", "key", "cred", "log", "sign", "user", "identified", "typ",
                    "enter", "put", "gave", "past", "pin", "use", "try", "auth", "wort", "contrase", "senha",
                    "wacht", "senord", "hasło", "haslo", "пароль", "code", "chang", "rotat", "reset", "updat",
                    "switch", "(", "account", "using", "mdp", "clave", " / ", "parola", "seed", "schl", "sleutel",
                    *_MORE_LOGIN_TRIGGERS, *_CJK_TRIGGERS, *_WIFI_WORDS, *_DEFAULT_ACCOUNTS)  # fmt: skip
# A prompt and what was typed at it, as a transcript shows it: "Enter passphrase for key '/root/.ssh/id_rsa': X",
# "[sudo] password for deploy: X", "Enter PEM pass phrase: X". The prompt text runs to the first colon.
# The prompt may quote a URL or a path with colons in it (Password for 'https://bob@host': X). Other languages'
# words for a password are prompts too (Passwort:, mot de passe :, contraseña:).
_PROMPT_WORD = (
    r"(?:pass(?:word|wd|phrase|[ \t]phrase|code)|passwort|kennwort|mot[ \t]de[ \t]passe|contrase(?:ñ|n)a|senha"
    r"|wachtwoord|l(?:ö|o)senord|has(?:ł|l)o|пароль)(?![a-z0-9_\-])"
)
_PROMPT_SECRET = re.compile(_PROMPT_WORD + r"(?:[^:'\"`\n]{1,80}+|'[^'\n]{0,80}+'){0,4}+:(?!//)[ \t]{0,3}")
# Google's app passwords are four groups of four letters.
_APP_PASSWORD = re.compile(r"[a-z]{4}(?: [a-z]{4}){3}(?![a-z0-9])")
# A user and a password as a pair: "creds: admin / s3cret", "default credentials are admin/admin123",
# "username/password: bob:hunter2".
_CREDENTIAL_PAIR = re.compile(
    r"(?:cred(?:s|entials?)|user(?:name)?[ \t]?/[ \t]?pass(?:word)?|u/p|log[ \t]?in(?:[ \t]{1,3}(?:details|info))?"
    r"|account|(?:basic[ \t])?auth)(?![a-z0-9_\-])"
    r"(?:[ \t]{1,3}(?:for|to|of|on)(?:[ \t]{1,3}[a-z0-9_'.\-]{1,24}+){1,3}?)?"
    r"(?:[ \t]{0,3}(?::|->|=)|[ \t]{1,3}(?:are|is|were|was)(?:[ \t]{1,3}(?:still|now|just))?)"
    r"[ \t]{1,3}[^\s/:|,]{1,64}+[ \t]{0,3}[/:|,][ \t]{0,3}"
)
# "use the credentials root:T00r!root": the pair written as one token right after the word, no link.
_CREDENTIAL_TOKEN = re.compile(r"cred(?:s|entials?)(?![a-z0-9_\-])[ \t]{1,3}[^\s/:|'\"]{1,64}+[/:]")
# Logging in as someone with something: "login admin with changeme99", "log in as root with toor2024",
# "user test and pass Test1234", .netrc's "login deploy password X".
_LOGIN_WITH = re.compile(
    r"(?:log(?:ging|ged|s)?[ \t]?(?:in|on)|login|sign(?:ing|ed|s)?[ \t]?in|user(?:name)?)(?:[ \t]{1,3}as)?"
    r"[ \t]{1,3}[^\s]{1,64}+[ \t]{1,3}(?:and[ \t]{1,3})?"
    r"(?:with(?:[ \t]{1,3}(?:the[ \t]{1,3})?(?:pass(?:word|wd)?|pw|pwd))?|pass(?:word|wd)?|pw|pwd)"
    r"[ \t]{1,3}"
)
# Polish and Czech put the link after a few words: "hasło do bazy to X", "heslo k serveru je X".
_LINKED_LATER = re.compile(
    r"(?<![a-z])(?:has(?:ł|l)o|heslo)(?:[ \t]{1,3}[^\s,:;]{1,24}+){0,3}?[ \t]{1,3}(?:to|je|jest)[ \t]{1,3}"
)
# Google's app passwords after their name: "app password fdhf npci mhvf tdnl", "app password: ...".
_APP_PASSWORD_NAMED = re.compile(r"(?<![a-z])app[ \t\-]?pass(?:word)?(?:[ \t]{0,3}:|[ \t]{1,3}(?:is|was))?[ \t]{1,3}")
# Four-letter words prose puts after "app password" (the letters of a real one are drawn at random).
_FOUR_LETTER_WORDS = frozenset(
    {"this", "that", "with", "from", "have", "will", "your", "when", "them", "then", "they", "were", "been", "what",
     "some", "into", "only", "also", "just", "more", "here", "does", "done", "used", "uses", "need", "must", "like",
     "make", "sure", "each", "once", "both", "same", "than", "very", "well", "work", "page", "link", "code", "send",
     "mail", "user", "name", "help", "goes", "told", "said", "gave", "back", "over", "long", "even", "keep"}
)  # fmt: skip
# What follows such a name and a colon without being a password: groups (chown root:wheel), OAuth scopes.
_NOT_ACCOUNT_PASSWORDS = frozenset(
    {"root", "admin", "wheel", "staff", "users", "user", "sudo", "adm", "docker", "nogroup", "daemon", "bin", "sys",
     "read", "write", "org", "repo", "email", "all", "public", "private", "group", "owner", "full", "none", "latest",
     "index", "login", "logout", "home", "main", "view", "edit", "list", "add", "change", "delete", "default",
     "disk", "tty", "video", "audio", "lp", "mail", "kmem", "dialout", "cdrom", "floppy", "tape", "shadow", "utmp",
     "input", "render", "plugdev", "netdev", "nobody", "operator", "games", "backup", "proxy", "systemd-journal",
     "www-data", "syslog", "crontab", "messagebus", "ssl-cert"}
)  # fmt: skip
_OWNERSHIP_COMMANDS = re.compile(r"chown|chgrp|install[ \t]|--owner|--user|-u[ \t]|user:|group:")
# A password near its word, shaped by rules no word meets (P@ssw0rd2024, Gandalf!77-2024), with no link: "the db
# password in the ticket is wrong, it's X not Y". Read on the word's line, a bounded window after it.
_NEAR_PASSWORD_WORD = re.compile(r"(?<![a-z])(?:pass(?:word|wd|phrase)|pw)(?![a-z])")  # not "pass", a verb
_NEAR_WINDOW = 100
_VERSION = re.compile(r"[vV]?[0-9]+(?:\.[0-9]+)+")
_NEAR_TOKEN = re.compile(r"(?<![^\s(\[{<,;:=`'\"])([^\s\"'`,;()\[\]{}<>]{8,64}+)")
# SQL: CREATE/ALTER USER ... IDENTIFIED BY 'x', IDENTIFIED WITH plugin BY 'x', WITH [ENCRYPTED] PASSWORD 'x'.
_SQL_PASSWORD = re.compile(
    r"(?:identified[ \t]{1,3}(?:with[ \t]{1,3}[a-z0-9_]{1,40}+[ \t]{1,3})?by(?:[ \t]{1,3}password)?"
    r"|with[ \t]{1,3}(?:encrypted[ \t]{1,3})?password"
    r"|set[ \t]{1,3}password(?:[ \t]{1,3}for[ \t]{1,3}[^\s=]{1,80}+)?[ \t]{0,3}=(?:[ \t]{0,3}password[ \t]{0,3}\()?)"
    r"[ \t]{0,3}"
)
# What was typed at a prompt: "when psql asked for the password I entered X", "I typed X at the prompt". Only
# with a password word or a prompt nearby, and then a value that reads as a password (a prompt alone: one that
# no command reads as, mixed case and a digit or a symbol).
_TYPED_SECRET = re.compile(
    r"(?:typed|typing|type|entered|entering|enter|put[ \t]{1,3}in|(?P<loose>put|gave[ \t]{1,3}it|try|trying|tried)"
    r"|pasted|pasting|(?P<use>use|using|used))"
    r"[ \t]{1,3}(?:in[ \t]{1,3})?"
)
_TYPED_CONTEXT = 60
# "uses 'Tr33house!' as its password": the value is the token before " as"; found by reading back from it (a
# quoted value, or a run that starts after a space or a bracket), so each match costs a bounded amount.
_AS_PASSWORD = re.compile(
    r"[ \t]as[ \t]{1,3}(?:(?:the|its|my|our|your|their|his|her|an?|new)[ \t]{1,3})?(?:[a-z\-]{1,20}+[ \t]{1,3})?"
    r"(?:pass(?:word|wd|phrase)|pw|pin)(?![a-z])"
)
# "hardcoded the key as a1f9c03e...": the secret named first, then "as" and its value.
_SECRET_AS = re.compile(r"(?:key|token|secret|password|passphrase|passwd)[ \t]{1,3}as[ \t]{1,3}")
_VALUE_BEFORE = re.compile(
    r"(?:'([^'\n]{1,128}+)'|\"([^\"\n]{1,128}+)\"|`([^`\n]{1,128}+)`"
    r"|(?<![^\s(\[{<,;:=])([^\s\"'`()\[\]{}<>,;]{1,128}+))$"
)
_VALUE_BEFORE_WIDTH = 132
# "changed the password from X to Y" (both are passwords); "changed it from X to Y" only with a password's shape
# and a symbol (not "from Python3 to Python311").
_CHANGED_FROM = re.compile(
    r"(?:chang(?:ed|e|ing)|rotat(?:ed|e|ing)|reset(?:ting)?|updat(?:ed|e|ing)|switch(?:ed|ing)?)[ \t]{1,3}"
    r"(?:it|(?P<named>(?:the|my|our|his|her|its|their)[ \t]{1,3}(?:[a-z\-]{1,20}+[ \t]{1,3})?"
    r"(?:password|passphrase|pw|pin)))[ \t]{1,3}from[ \t]{1,3}"
)
# "rotated it to Zebra_Quartz_19", "reset the root password to X": the new value, no "from".
_CHANGED_TO = re.compile(
    r"(?:chang(?:ed|e|ing)|rotat(?:ed|e|ing)|reset(?:ting)?|updat(?:ed|e|ing)|switch(?:ed|ing)?|set(?:ting)?"
    r"|put(?:ting)?)[ \t]{1,3}"
    r"(?:it|(?P<named>(?:the|my|our|his|her|its|their)[ \t]{1,3}(?:[a-z\-]{1,20}+[ \t]{1,3})?"
    r"(?:password|passphrase|pw|pin)))[ \t]{1,3}(?:to|(?P<on>on))[ \t]{1,3}"
)
# "creds: u=svc_etl p=X", "user=bob pass=X": a user and a password as short keys, side by side.
# Words after "set the password to" that say what it does, not what it is.
_CHANGED_TO_NOT = frozenset(
    {"expire", "expires", "never", "blank", "empty", "match", "comply", "unlock", "login", "access", "avoid",
     "include", "make", "allow", "prevent", "force", "require", "rotate", "change", "reset", "something", "whatever",
     "nothing", "anything", "none", "default", "random", "auto", "automatic", "manual", "unlimited", "disabled"}
)  # fmt: skip
_USER_P_PAIR = re.compile(
    r"(?<![a-z0-9_\-])(?:u|usr|user|username|login)=[^\s,;&]{1,64}+[ \t,;&]{1,3}(?:p|pw|pwd|pass)="
)
_THEN_TO = re.compile(r"[ \t]{1,3}to[ \t]{1,3}")
# Codes that let someone in: "the access code is 9F3K-7QLM-2XPD", "recovery codes: 4f7k-2m9x 8q1w-3e5r".
_ACCESS_CODE = re.compile(
    r"(?<![a-z])(?:(?:access|recovery|backup|activation|licen[cs]e|verification|security|one-time|otp|2fa|mfa|totp"
    r"|unlock|door|alarm)[ \t\-]{1,3}codes?(?:[ \t]{1,3}[a-z']{1,12}+){0,6}?"  # "the recovery code I got was X"
    # "the code for the server room door is X": a code named for the lock it opens
    r"|codes?[ \t]{1,3}(?:for|to|of)(?:[ \t]{1,3}[a-z'\-]{1,12}+){0,3}?[ \t]{1,3}"
    r"(?:door|alarm|safe|gate|lock|locker|garage|keypad|padlock|vault)s?)"
    r"(?:[ \t]{0,3}[:,]|[ \t]{1,3}(?:is|are|was|were))[ \t]{1,3}"
)
_CODE_VALUES = re.compile(r"(?:[,;]?[ \t]{1,3})?([a-z0-9]{2,8}(?:-[a-z0-9]{2,8}){1,5}+|[0-9]{4,10})(?![a-z0-9\-])")
_MAX_CODES = 16
# A secret given in brackets after naming it: "the API key you gave me (c81e72...)".
_BRACKETED_SECRET = re.compile(
    r"(?<![a-z0-9_])(?:api[ \t_\-]?key|token|secret|password|passphrase|credential)s?"
    r"(?:[ \t]{1,3}[a-z0-9_'.\-]{1,24}+){0,6}?[ \t]{0,3}\("
    r"(?:(?:currently|now|was|is|still|old|new|value)[ \t]{0,3}:?[ \t]{1,3})?([^()\s]{4,128}+)\)"
)
# "Kx9!plmW2 is the root pw": the value comes first; found from " is the ... password" and read backwards.
_IS_THE_PASSWORD = re.compile(
    r"[ \t](?:is|was|are)[ \t]{1,3}(?:the|my|our|your|their|his|her|its)[ \t]{1,3}(?:[a-z0-9\-]{1,20}+[ \t]{1,3}){0,3}"
    r"(?:pass(?:word|wd|phrase)|pw|pin)(?![a-z])"
)
# "rotate the Twilio auth token 3dfda933...": a token named for what it is, then key material, no link.
# Found from the word, the qualifier read back.
_QUALIFIED_TOKEN = re.compile(r"(?:token|key)[ \t]{1,3}")
_TOKEN_QUALIFIER = re.compile(
    r"(?<![a-z0-9_])(?:auth|api|access|bearer|refresh|session|secret|app|bot|personal[ \t]access)[ \t_\-]?$"
)
_TOKEN_QUALIFIER_WIDTH = 20
# "[10:42] dev2: root / R00t-Lab-2024": a user and a password, spaced like prose, the password shaped by rules.
# Found from the " / ", the user read back.
_SPACED_SLASH = re.compile(r"[ \t]/[ \t]")
_USER_NAME = re.compile(r"(?<![^\s:,;(\[])[a-z_][a-z0-9_.\-]{0,31}$")
# "use bob / B0bsecret!": a pair after "use" or "try", spaced like prose (a path or a branch is not).
_USE_PAIR = re.compile(r"(?:use|try)[ \t]{1,3}[^\s/:|]{1,64}+[ \t]{1,3}/[ \t]{1,3}")
# A variable named for a secret, told in prose: "I've set MYSQL_PWD to X", "GITHUB_TOKEN is X".
_NAMED_VARIABLE = re.compile(
    r"_(?:password|passwd|pwd|pass|secret|(?P<weak>token|key))(?![a-z0-9_])[ \t]{1,3}(?:to|is|was)[ \t]{1,3}"
)
# A user and a password handed to code: login('bob', 'X'), auth=('admin', 'X'), HTTPBasicAuth("u", "X").
# A connection or bind given a user and a password: new PDO(dsn, 'u', 'X'), getConnection(url, "u", "X"),
# simple_bind_s("cn=admin,...", "X"), login(client, "u", "X"): the last literal, when it reads as a password.
_CONNECT_CALL = re.compile(
    r"(?:pdo|connect(?:ion)?|log_?in|sign_?in|bind(?:_s)?|authenticate|networkcredential"
    r"|usernamepassword(?:credentials|authenticationtoken)|passwordauthentication|(?:http)?(?:basic|digest|ntlm)auth)"
    r"[ \t]{0,2}\([ \t]{0,3}"
)
# A name and its value handed to a call: define('DB_PASSWORD', 'X'), config.set("password", "X"), put("token", "X").
_NAMED_LITERAL = re.compile(r"\([ \t]{0,3}['\"]([a-z0-9_.\-]{1,60}+)['\"][ \t]{0,3},[ \t]{0,3}")
_CODE_LOGIN = re.compile(
    r"(?:log_?in|auth(?:enticate)?|basic_?auth|httpbasicauth|credentials|sign_?in)[ \t]{0,3}[=(][ \t]{0,3}\(?"
    r"[ \t]{0,3}(?:(['\"])[^'\"\n]{1,64}+\1|[a-z_][a-z0-9_.]{0,40}+)[ \t]{0,3},[ \t]{0,3}"
)
# A passphrase of words after a colon ("passphrase: amber lantern quietly folds"): three to six words, none of
# them a word prose needs, ending the line or the sentence.
_PASSPHRASE_WORDS = re.compile(r"[a-z]{3,12}+(?:[ \t][a-z]{3,12}+){2,5}+(?=[ \t]*(?:$|[.!;\n]))", re.MULTILINE)
# After "passphrase ... is" the words may run on into the sentence: they end at a clause's conjunction or a comma
# (the repetition is bounded, so its backtracking is too).
_PASSPHRASE_IN_PROSE = re.compile(
    r"[a-z]{3,12}+(?:[ \t][a-z]{3,12}+){2,5}(?=[ \t]*(?:$|[.!;,\n])|[ \t]{1,3}(?:but|and|so|though|btw)(?![a-z]))",
    re.MULTILINE,
)
_PROSE_WORDS = frozenset(
    {"the", "and", "for", "not", "see", "you", "your", "our", "its", "from", "with", "this", "that", "what", "when",
     "which", "how", "are", "was", "were", "has", "have", "had", "will", "can", "must", "should", "only", "any",
     "all", "too", "set", "use", "used", "here", "there", "please", "stored", "required", "optional", "same", "also",
     "into", "onto", "about", "been", "being", "does", "did", "but", "just", "than", "then", "they", "them",
     "password", "passwords", "passphrase", "token", "updated", "successfully", "changed", "unchanged", "failed",
     "incorrect", "accepted", "denied", "rejected", "saved", "expired", "authentication"}
)  # fmt: skip
_PASSWORD_CONTEXT = re.compile(r"pass(?:word|wd|phrase|[ \t]phrase|code)|\bpw\b|\bsudo\b|credential|\blog[ \t]?in\b")
_PROMPT_CONTEXT = re.compile(r"prompt|asked|asks|rejected|rejecting|denied")
# "use the passphrase correcthorsebatterystaple": no link word, so only a value no word could be counts.
_BARE_STATED_SECRET = re.compile(r"(?:pass(?:word|wd|phrase)?|pw|" + _EUROPEAN_LOGIN_WORDS + r")[ \t]{1,3}(?=[^\s])")
_BARE_STATED_MORE = re.compile(r"(?:" + _MORE_LOGIN_WORDS + r")[ \t]{1,3}(?=[^\s])")  # only where a trigger occurs
_QUOTED_VALUE = re.compile(r"'([^'\n]{1,128})'|\"([^\"\n]{1,128})\"|`([^`\n]{1,128})`")
_BARE_VALUE = re.compile(r"[^\s\"'`,;()\[\]{}<>]{1,128}+")
_NOT_PASSWORDS = frozenset(
    {"required", "optional", "incorrect", "wrong", "invalid", "empty", "blank", "correct", "stored", "hashed",
     "expired", "missing", "changed", "reset", "masked", "hidden", "redacted", "unknown", "unset", "set", "same",
     "different", "not", "the", "a", "an", "your", "my", "our", "their", "its", "his", "her", "none", "null",
     "1password"}
)  # fmt: skip
_PASSWORD_SYMBOLS = frozenset("!@#$%^&*+=~?")


def _value_at(text: str, i: int) -> tuple[int, int, bool] | None:
    """The value that starts at ``i``: (start, end, quoted), quotes excluded; sentence punctuation but "!"
    trimmed."""
    q = _QUOTED_VALUE.match(text, i)
    if q:
        group = q.lastindex or 1
        return q.start(group), q.end(group), True
    v = _BARE_VALUE.match(text, i)
    if not v:
        return None
    end = v.start() + len(v.group().rstrip(".,:;?"))  # "!" often ends a password
    return v.start(), _through_semicolons(text, end) if end == v.end() else end, False


def _looks_like_password(value: str, *, quoted: bool) -> bool:
    """A stated value that reads as a password rather than a word, a number, code or a placeholder."""
    if not 4 <= len(value) <= 128 or value.lower() in _NOT_PASSWORDS or _is_number(value):
        return False
    if (value[0] in "$%{<*[#(" and not _symbol_led(value)) or "..." in value or len(set(value)) <= 2:
        return False  # a template, a placeholder, a mask
    if "(" in value or "://" in value:
        return False  # code or an address
    if _MASK.search(value) or value.lower() in _NAME_PARTS:
        return False  # ghp_****, sk-...••••; "password" itself (a field's name)
    if _is_reference_or_placeholder(value, quoted=quoted):
        return False
    if _YAML_TAG.fullmatch(value) and not any(c.isdigit() for c in value):
        return False  # !vault, !Ref: a YAML tag says where the value is
    if value.startswith(("os.", "process.env", "env.", "getenv", "self.", "config.", "settings.", "args.")):
        return False
    if quoted:
        return " " not in value.strip() or len(value) >= 12
    if " " in value:
        return False
    letters = any(c.isalpha() for c in value)
    digits = any(c.isdigit() for c in value)
    if letters and digits and len(value) >= 5:
        return True
    if letters and any(c in _PASSWORD_SYMBOLS for c in value) and len(value) >= 6:
        return True
    return _is_passphrase(value) or (value.count("-") >= 2 and len(value) >= 14 and value.replace("-", "").isalpha())


def _is_strong_password(value: str) -> bool:
    """A value no prose word is: 20+ letters run together, or 8+ characters mixing letters, digits and symbols."""
    if len(value) >= 20 and value.isalpha() and value.islower():
        return True
    letters, digits = any(c.isalpha() for c in value), any(c.isdigit() for c in value)
    symbols = any(c in _PASSWORD_SYMBOLS for c in value)
    return len(value) >= 8 and letters and digits and symbols and "(" not in value and value[0] not in "$%{<*[#"


def _is_mixed_code(value: str) -> bool:
    """Letters and digits interleaved, eight or more, three digits at least (7A2F9C41BE): a key, not a word."""
    if len(value) < 8 or not value.isalnum() or not value.isascii():
        return False
    digits = sum(c.isdigit() for c in value)
    return digits >= 3 and len(value) - digits >= 2 and len(_CLASS_RUN.findall(value.lower())) >= 5


def _is_dashed_code(value: str) -> bool:
    """Words and numbers joined by dashes, three digits or more (invoice-q3-2024): a password, not a word."""
    parts = value.split("-")
    digits = sum(c.isdigit() for c in value)
    return (
        len(parts) >= 3
        and len(value) >= 10
        and digits >= 3
        and all(p.isalnum() for p in parts)
        and not (value.replace("-", "").isdigit())
    )


def _is_complex_password(value: str) -> bool:
    """Upper and lower case and a digit, or letters, a digit and a symbol: how password rules shape one, and
    no command or word is."""
    upper, lower = any(c.isupper() for c in value), any(c.islower() for c in value)
    digits, symbols = any(c.isdigit() for c in value), any(c in _PASSWORD_SYMBOLS for c in value)
    return len(value) >= 6 and digits and ((upper and lower) or ((upper or lower) and symbols))


def _stated_secrets(scan: _Scan) -> Iterator[_Candidate]:
    if "encrypteddata:" not in scan.lower:
        yield from _stated_secrets_in(scan)
        return
    for found in _stated_secrets_in(scan):
        if not _in_ciphertext(scan.lower, found[0]):
            yield found  # a Sealed Secret's encryptedData is ciphertext, however it is keyed


def _stated_secrets_in(scan: _Scan) -> Iterator[_Candidate]:
    text, lower = scan.text, scan.lower
    if not any(k in lower for k in _STATED_TRIGGERS):
        return
    linked = [_PROMPT_SECRET, _CREDENTIAL_PAIR, _CREDENTIAL_TOKEN, _LOGIN_WITH, _SQL_PASSWORD]
    if "hasło" in lower or "haslo" in lower or "heslo" in lower:
        linked.append(_LINKED_LATER)
    for rx in linked:
        for m in rx.finditer(lower):
            found = _value_at(text, m.end())
            if not found or _word_char_before(lower, m.start()) or lower[m.start() - 1 : m.start()] in (":", "/"):
                continue  # user:password@host: the word is a URL's placeholder, not a prompt
            value = text[found[0] : found[1]]
            if _looks_like_password(value, quoted=found[2]):
                yield found[0], found[1], "SECRET"
            elif (rx is _CREDENTIAL_PAIR or rx is _CREDENTIAL_TOKEN) and _is_paired_word(m.group(), value):
                yield found[0], found[1], "SECRET"  # "basic auth is preview:peekaboo": a word, paired
    if any(w in text for w in _CJK_TRIGGERS):
        for m in _CJK_STATED.finditer(text):
            run = _ASCII_VALUE.match(text, m.end())
            if run:
                value = run.group().rstrip(".,:;?)")
                if _looks_like_password(value, quoted=False):
                    yield run.start(), run.start() + len(value), "SECRET"
    if "app" in lower and ("pass" in lower or "pw" in lower):
        for m in _APP_PASSWORD_NAMED.finditer(lower):
            app = _APP_PASSWORD.match(lower, m.end())
            if app and not set(app.group().split()) & _FOUR_LETTER_WORDS:
                yield app.start(), app.end(), "SECRET"
    if any(w in lower for w in _WIFI_WORDS):
        for m in _WIFI_KEY.finditer(lower):
            found = _value_at(text, m.end())
            if found and _looks_like_password(text[found[0] : found[1]], quoted=found[2]):
                yield found[0], found[1], "SECRET"
    if any(w in lower for w in _DEFAULT_ACCOUNTS):
        for m in _DEFAULT_ACCOUNT_PAIR.finditer(lower):
            value = text[m.start(1) : m.end(1)].rstrip(".!?")
            if (
                value.lower() not in _NOT_ACCOUNT_PASSWORDS
                and not value[0].isdigit()
                and not _OWNERSHIP_COMMANDS.search(_line_around(lower, m.start()))
                and (_looks_like_password(value, quoted=False) or _is_plain_word_password(value))
            ):
                yield m.start(1), m.start(1) + len(value), "SECRET"
    yield from _near_password_word(text, lower)
    for m in _USE_PAIR.finditer(lower):
        found = _value_at(text, m.end())
        if found and not _word_char_before(lower, m.start()) and _is_complex_password(text[found[0] : found[1]]):
            yield found[0], found[1], "SECRET"
    for m in _NAMED_VARIABLE.finditer(lower):
        found = _value_at(text, m.end())
        if found:
            value = text[found[0] : found[1]]
            if _is_key_material(value) if m.group("weak") else _looks_like_password(value, quoted=found[2]):
                yield found[0], found[1], "SECRET"
    if "(" in text or "=" in text:
        for m in _CODE_LOGIN.finditer(lower):
            found = _value_at(text, m.end())
            if found and found[2] and _looks_like_password(text[found[0] : found[1]], quoted=False):
                yield found[0], found[1], "SECRET"
    if "(" in text:
        for m in _CONNECT_CALL.finditer(lower):
            args = _call_arguments(text, m.end())
            if not (len(args) >= 2 and args[-1][2]):
                continue
            value = text[args[-1][0] : args[-1][1]]
            if _call_literal_ok(value) and (_looks_like_password(value, quoted=False) or _is_gibberish(value)):
                yield args[-1][0], args[-1][1], "SECRET"
        for m in _NAMED_LITERAL.finditer(lower):
            found = _value_at(text, m.end())
            named = found and found[2] and _names_a_secret(m.group(1)) is False
            if found and named and _call_literal_ok(v := text[found[0] : found[1]]) and _password_shaped(v):
                yield found[0], found[1], "SECRET"
    yield from _typed_secrets(text, lower)
    yield from _told_in_passing(text, lower)
    bare = [_BARE_STATED_SECRET.finditer(lower)]
    if any(w in lower for w in _MORE_LOGIN_TRIGGERS):
        bare.append(_BARE_STATED_MORE.finditer(lower))
    for m in itertools.chain.from_iterable(bare):
        found = _value_at(text, m.end())
        if not found or _word_char_before(lower, m.start()):
            continue
        foreign = not lower.startswith(("pass", "pw"), m.start())
        value = text[found[0] : found[1]]
        # A quoted value right after the word is meant literally ("the password 'kiwi-Orange-77'").
        if (
            _is_strong_password(value)
            or _is_complex_password(value)
            or _is_key_material(value)
            or _is_dashed_code(value)
            or (found[2] and _looks_like_password(value, quoted=False))
            # "şifresi Fenerbahce1907", "sifre X olarak": those languages put no link there
            or (foreign and _looks_like_password(value, quoted=False) and any(c.isdigit() for c in value))
            # "the password `a$b;c` contains": quoted, short, and not a word
            or (found[2] and not value.isalpha() and " " not in value and _looks_like_password(value, quoted=True))
        ):
            yield found[0], found[1], "SECRET"
    for m in _QUALIFIED_TOKEN.finditer(lower):
        if not _TOKEN_QUALIFIER.search(lower, max(0, m.start() - _TOKEN_QUALIFIER_WIDTH), m.start()):
            continue
        found = _value_at(text, m.end())
        if found and _is_key_material(text[found[0] : found[1]]):
            yield found[0], found[1], "SECRET"
    if " / " in text:
        for m in _SPACED_SLASH.finditer(lower):
            if not _USER_NAME.search(lower, max(0, m.start() - 33), m.start()):
                continue
            found = _value_at(text, m.end())
            if not found or found[2]:
                continue  # quoted: code (path / "file.json"), not a pair told in prose
            value = text[found[0] : found[1]]
            if _is_complex_password(value) and len(value) >= 8 and not _IDENTIFIER.fullmatch(value):
                yield found[0], found[1], "SECRET"
    if "," in lower:
        for m in _STATED_APPOSITIVE.finditer(lower):
            found = _value_at(text, m.end())
            closed = found and (found[1] == len(text) or text.startswith((",", ".", ";", ")"), found[1]))
            if found and closed and not found[2]:
                value = text[found[0] : found[1]]
                if _looks_like_password(value, quoted=False):
                    yield found[0], found[1], "SECRET"
    for word in _STATED_KEYWORD.finditer(lower):
        for rx in (_STATED_SECRET, _STATED_SECRET_AFTER_WORDS):
            stated = rx.match(lower, word.start())
            if stated and (secret := _stated_value(text, lower, stated)):
                yield secret
                break


def _is_paired_word(pair: str, value: str) -> bool:
    """A plain word after "user:" in a credential pair written as one token (preview:peekaboo): the colon pairs
    it with the user, so it is the password, unless it is a field's name or a placeholder."""
    if not pair.endswith(":") or pair[-2:-1].isspace():
        return False
    low = value.lower()
    return value.isalpha() and len(value) >= 4 and low not in _NOT_PASSWORDS | _NAME_PARTS | _PLACEHOLDER_VALUES


def _near_password_word(text: str, lower: str) -> Iterator[_Candidate]:
    scanned = 0  # each character is read for tokens once, however many password words share a line
    for m in _NEAR_PASSWORD_WORD.finditer(lower):
        line_end = lower.find("\n", m.end(), m.end() + _NEAR_WINDOW)
        stop = line_end if line_end != -1 else min(len(lower), m.end() + _NEAR_WINDOW)
        for t in _NEAR_TOKEN.finditer(text, max(m.end(), scanned), stop):
            value = t.group(1).rstrip(".,:;?")
            backticked = text[t.start() - 1 : t.start()] == "`" and text.startswith("`", t.start() + len(value))
            if "://" in value or ("@" in value[1:-1] and "." in value.rpartition("@")[2]) or _VERSION.match(value):
                continue  # an address or a version (v2.3.1-RC!), not a password
            if "=" in value or _IDENTIFIER.fullmatch(value.lstrip("~:!")):
                continue  # code in backticks: `~pkg.module.Name`, `flag=-1`
            if _is_used_password(value) or (backticked and _is_strong_password(value)):
                yield t.start(), t.start() + len(value), "SECRET"
        scanned = max(scanned, stop)


def _stated_value(text: str, lower: str, m: re.Match[str]) -> _Candidate | None:
    """The secret a stated-password match gives, if its value reads as one."""
    found = _value_at(text, m.end())
    if not found:
        return None
    start, end, quoted = found
    if _stated_value_ok(m, text[start:end], quoted=quoted):
        return start, end, "SECRET"
    if m.group("weak") or m.group("pin"):
        return None
    if app := _APP_PASSWORD.match(lower, m.end()):
        return app.start(), app.end(), "SECRET"
    if lower.endswith(":", 0, len(m.group().rstrip()) + m.start()):
        phrase = _PASSPHRASE_WORDS.match(lower, m.end())
        if phrase and not set(phrase.group().split()) & _PROSE_WORDS:
            return phrase.start(), phrase.end(), "SECRET"
    elif "phrase" in m.group():  # "the passphrase for my key is correct horse battery staple but ..."
        phrase = _PASSPHRASE_IN_PROSE.match(lower, m.end())
        if phrase and not set(phrase.group().split()) & _PROSE_WORDS:
            return phrase.start(), phrase.end(), "SECRET"
    return None


_HASH_PREFIX = re.compile(r"(?i)(?:sha[0-9]{0,3}|md5)[:\-]")  # SHA256:... fingerprints, sha256:... digests
_AUTH_GAP_STARTS = frozenset({"on", "for", "of", "in", "at", "to", "from"})
_STATED_LINK_START = re.compile(r":|is|was|are|were|->|=>")
_AUTH_SCHEME = re.compile(r"o?auth|saml|ldap|kerberos|ntlm|digest|scram|sha|md5|hmac|jwt|mtls|tls|v[0-9]")
# Words that follow "the password is just/literally" in prose without being the password.
_PLAIN_NOT_PASSWORDS = frozenset(
    {"fine", "wrong", "bad", "weak", "strong", "long", "short", "too", "there", "here", "ignored", "plain",
     "plaintext", "visible", "cached", "everywhere", "broken", "okay", "good", "great", "insecure", "secure",
     "terrible", "awful", "another", "something", "anything", "nothing", "whatever", "random", "default", "stupid",
     "annoying", "useless", "gone", "lost", "right", "simple", "easy", "hard", "obvious", "trivial", "fake",
     "test", "testing", "temporary", "placeholder", "password", "passwords", "what", "that", "this", "because",
     "like", "about", "sitting", "written", "shown", "printed", "logged", "sent", "leaked", "exposed", "public",
     "only", "really", "totally", "completely", "exactly", "basically", "usually", "probably", "clearly", "foo",
     "bar", "baz", "qux", "quux", "foobar"}
)  # fmt: skip
_ADJECTIVE_ENDINGS = ("ed", "ing", "able", "ible", "ous", "ive", "ful", "less")


def _is_plain_word_password(value: str) -> bool:
    """A lone lower-case word that may be a weak password (football, dragon): not a word prose puts there."""
    low = value.lower()
    if not (value.isalpha() and value.isascii() and 4 <= len(value) <= 24) or low != value:
        return False
    if low in _NOT_PASSWORDS or low in _PLAIN_NOT_PASSWORDS or low in _PROSE_WORDS:
        return False
    return not low.endswith(_ADJECTIVE_ENDINGS)


def _stated_value_ok(m: re.Match[str], value: str, *, quoted: bool) -> bool:
    """Whether the value after a stated password, PIN, token or key reads as one."""
    if _HASH_PREFIX.match(value) or value.startswith(_PUBLIC_KEY_PREFIXES):
        return False
    if m.group("weak"):
        # "token", "key": key material, or a password's shape with a symbol or several digits ("the Wi-Fi key is
        # BlueHouse2024"); a name such as Base64Url or TenantId2 has the case and a digit but not those.
        symbols, digits = any(c in _PASSWORD_SYMBOLS for c in value), sum(c.isdigit() for c in value)
        return (
            _is_key_material(value)
            or _is_mixed_code(value)
            or (len(value) >= 8 and _is_complex_password(value) and (symbols or digits >= 3))
        )
    if m.group("spelled"):  # "the password is the word cinnamon": named as a word, any word
        return value.isalnum() and len(value) >= 3 and value.lower() not in _NOT_PASSWORDS
    if m.group("auth"):  # "the redis auth is X": a password's shape, not a scheme (OAuth2, scram-sha-256)
        gap = m.group().split()[1:2]  # "auth on prod is X", not "auth key description: X"
        if gap and gap[0] not in _AUTH_GAP_STARTS and not _STATED_LINK_START.match(gap[0]):
            return False
        return _looks_like_password(value, quoted=False) and not _AUTH_SCHEME.match(value.lower())
    if m.group("plain") and _is_plain_word_password(value):
        return True  # "my password is just football": the adverb says a word is the value
    words = m.group().split()
    about = len(words) > 1 and _ABOUT_A_SECRET.fullmatch(words[1])  # "password length for the safe is 12"
    if value.isdigit() and (m.group("code") or (_LOCKED_THING.search(m.group()) and not about)):
        return 4 <= len(value) <= 10  # a passcode, or the password of a zip or a door, is often digits only
    if m.group("pin"):  # digits, or a code with letters in it; not a version pin (numpy==1.26)
        return (value.isdigit() and 4 <= len(value) <= 8) or (
            _is_complex_password(value) and value.replace("-", "").isalnum()
        )
    return _looks_like_password(value, quoted=quoted)


def _told_in_passing(text: str, lower: str) -> Iterator[_Candidate]:
    """Secrets named after they are given ("X as the password"), changed ("from X to Y"), access codes, and a
    secret in brackets after its name."""
    if " is " in lower or " was " in lower or " are " in lower:
        for m in _IS_THE_PASSWORD.finditer(lower):
            before = _VALUE_BEFORE.search(text, max(0, m.start() - _VALUE_BEFORE_WIDTH), m.start())
            if before:
                group = before.lastindex or 1
                value = before.group(group)
                if _is_complex_password(value) or _is_key_material(value):
                    yield before.start(group), before.end(group), "SECRET"
    if " as " in lower:
        for m in _SECRET_AS.finditer(lower):
            found = _value_at(text, m.end())
            if found and _word_char_before(lower, m.start()) is False:
                value = text[found[0] : found[1]]
                if _is_key_material(value) or (_is_complex_password(value) and not _IDENTIFIER.fullmatch(value)):
                    yield found[0], found[1], "SECRET"
        for m in _AS_PASSWORD.finditer(lower):
            before = _VALUE_BEFORE.search(text, max(0, m.start() - _VALUE_BEFORE_WIDTH), m.start())
            if before:
                group = before.lastindex or 1
                value = before.group(group)
                if _looks_like_password(value, quoted=False) or _is_complex_password(value):
                    yield before.start(group), before.end(group), "SECRET"
    if " to " in lower or " on " in lower:
        for m in _CHANGED_TO.finditer(lower):
            found = _value_at(text, m.end())
            if found:
                value = text[found[0] : found[1]]
                named = m.group("named") and not m.group("on")  # "set the password on server01" is no value
                if _looks_like_password(value, quoted=found[2]) if named else _is_complex_password(value):
                    yield found[0], found[1], "SECRET"
                elif named and _is_plain_word_password(value) and value not in _CHANGED_TO_NOT:
                    yield found[0], found[1], "SECRET"  # "set the root password to dragon": a weak one, still one
    if "=" in text:
        for m in _USER_P_PAIR.finditer(lower):
            found = _value_at(text, m.end())
            value = text[found[0] : found[1]] if found else ""
            # Beside a user, a lone word is the password too ("user=kiosk pass=icecream").
            word = value.isalpha() and len(value) >= 4 and value.lower() not in _NOT_PASSWORDS | _PLACEHOLDER_VALUES
            if found and (word or _looks_like_password(value, quoted=found[2])):
                yield found[0], found[1], "SECRET"
    if "from" in lower:
        for m in _CHANGED_FROM.finditer(lower):
            judge = _looks_like_password if m.group("named") else _complex_any_quoting
            first = _value_at(text, m.end())
            if not first:
                continue
            then = _THEN_TO.match(lower, first[1] + (1 if first[2] else 0))
            second = _value_at(text, then.end()) if then else None
            for found in (first, second):
                if found and judge(text[found[0] : found[1]], quoted=found[2]):
                    yield found[0], found[1], "SECRET"
    if "code" in lower:
        for m in _ACCESS_CODE.finditer(lower):
            pos = m.end() - len(m.group()) + len(m.group().rstrip())
            for _ in range(_MAX_CODES):
                c = _CODE_VALUES.match(lower, pos)
                if not c:
                    break
                code = c.group(1)
                if code.isdigit() or (any(ch.isdigit() for ch in code) and any(ch.isalpha() for ch in code)):
                    yield c.start(1), c.end(1), "SECRET"
                pos = c.end()
    if "(" in text:
        for m in _BRACKETED_SECRET.finditer(lower):
            value = text[m.start(1) : m.end(1)]
            if _is_key_material(value) or _is_complex_password(value):
                yield m.start(1), m.end(1), "SECRET"


def _is_used_password(value: str) -> bool:
    """A value "used" or "tried" with no password word near: only one no flag, setting or version is (mixed case,
    a digit and a symbol; no "=", no leading dash)."""
    if not value or value[0] in "-`" or "=" in value or value[-1] in ")]}>" or not _is_strong_password(value):
        return False
    return any(c.isupper() for c in value) and any(c.islower() for c in value)


def _complex_any_quoting(value: str, *, quoted: bool) -> bool:
    return _is_complex_password(value) and any(c in _PASSWORD_SYMBOLS for c in value)


def _typed_secrets(text: str, lower: str) -> Iterator[_Candidate]:
    for m in _TYPED_SECRET.finditer(lower):
        found = _value_at(text, m.end())
        if not found or _word_char_before(lower, m.start()):
            continue
        start, end, _ = found
        value = text[start:end]
        # The words around it, on its line; both searches are bounded, so each match costs the same.
        lo, hi = max(0, m.start() - _TYPED_CONTEXT), min(len(lower), end + _TYPED_CONTEXT)
        newline = lower.rfind("\n", lo, m.start())
        lo = newline + 1 if newline != -1 else lo
        newline = lower.find("\n", end, hi)
        near = lower[lo : newline if newline != -1 else hi]
        # Quotes do not make a typed value a password ("typed `exit`"): it is judged as if bare. After a loose
        # verb ("I put X") only a password's shape counts: "put config2.yaml in the password folder" is not one.
        judge = _is_complex_password(value) if m.group("loose") else _looks_like_password(value, quoted=False)
        password_near = _PASSWORD_CONTEXT.search(near) and judge
        if not m.group("use") and (password_near or (_PROMPT_CONTEXT.search(near) and _is_complex_password(value))):
            yield start, end, "SECRET"
        elif _is_used_password(value):
            yield start, end, "SECRET"  # letters, digits and symbols: typed or used, it is a password


# SECRET: passwords on command lines. Flags that name a password (``--password X``, ``-storepass X``,
# ``-passout pass:X``) mean it for any program; short flags mean it only for the programs listed, found on the
# same line (``-p`` is mysql's password but docker's port). Each line is scanned once per pattern.
_VALUE = r"""('[^'\n]{1,128}'|"[^"\n]{1,128}"|[^\s'"|;&<>]{1,128}+)"""
_PASSWORD_FLAG = re.compile(
    r"-(?<![\w\-]-)-?[A-Za-z\-]{0,16}(?:[Pp]ass(?:word|wd|phrase)?|PASS(?:WORD|WD|PHRASE)?|pw)(?:in|out)?"
    r"(?:=|[ \t]++|[\"'][ \t]{0,3},[ \t]{0,3}(?=[\"']))" + _VALUE  # or "--requirepass", "X": an argv list
)
_ECHO_TO_SUDO = re.compile(r"echo[ \t]++" + _VALUE + r"[ \t]*+\|[ \t]*+sudo[ \t]++(?:-[A-Za-z]++[ \t]++)*?-S")
# echo X | docker login ... --password-stdin (and every other CLI that copied docker's flag).
_ECHO_TO_STDIN = re.compile(r"echo[ \t]++(?:-n[ \t]++)?" + _VALUE + r"[ \t]*+\|[^|\n]{0,160}?--password-stdin")
# echo X | vncpasswd -f, echo 'user:X' | chpasswd, --vault-password-file <(echo X): a value echoed into a program
# that reads a password (the line says so), when the value reads as one.
_ECHO_VALUE = re.compile(
    r"echo[ \t]++(?:-[ne][ \t]++)?('[^'\n]{1,128}'|\"[^\"\n]{1,128}\"|[^\s'\"|;&<>)]{1,128}+)[ \t]*+(?:\||\))"
)
_ECHO_READERS = re.compile(r"passw|passphrase|chpasswd|-stdin|secret")
# restic's --password-command 'echo X', borg's BORG_PASSCOMMAND="echo X": a command that prints the password.
_PASSWORD_COMMAND = re.compile(
    r"pass(?:word|phrase)?[_\-]?(?:command|cmd)[\"']?[ \t]{0,3}[= \t][ \t]{0,3}[\"'](?:echo|printf)[ \t]{1,3}"
    r"([^\s\"'|;&<>$`]{1,128}+)[\"']"
)
_CLI_PROGRAM = re.compile(
    r"(?<![\w\-.])(?:(?<=bin/)|(?<!/))(mysql(?:dump|admin|import|check)?|mariadb(?:-dump|-admin)?|7z[az]?|sshpass"
    r"|(?:docker|podman|nerdctl|az|oc|cf|skopeo|oras|helm[ \t]++registry)[ \t]++login"
    r"|mongo(?:sh|dump|restore|export|import)?|zip|unzip|sqlcmd|bcp|redis-cli"
    r"|ldap(?:search|whoami|add|modify|delete|passwd)|curl|wget|https?|xh|lftp"
    r"|smbclient|htpasswd|rabbitmqctl|net[ \t]++use|net[ \t]++user|openssl|ssh-keygen|psexec(?:64)?"
    r"|mosquitto_(?:pub|sub)|sqlplus|rman|expdp|impdp|wpa_passphrase|snmp[a-z]{0,12}+|[sxw]?freerdp[0-9]?"
    r"|bundle[ \t]++config|(?:poetry|composer)[ \t]++config(?:[ \t]++-[\-a-z]{1,20}+)*+[ \t]++http-basic\.\S{1,100}+"
    r"|mc[ \t]++(?:alias[ \t]++set|config[ \t]++host[ \t]++add)[ \t]++\S{1,64}+[ \t]++\S{1,200}+"
    r"|gh[ \t]++secret[ \t]++set|winrs|nmcli)(?![\w\-])"
)
_CLI_FLAGS: dict[str, re.Pattern[str]] = {
    "mysql": re.compile(r"-(?<![\w\-]-)p(?=\S)" + _VALUE),  # attached only: "-p db" prompts and names a db
    "7z": re.compile(r"-(?<![\w\-]-)p(?=\S)" + _VALUE),
    "space-p": re.compile(r"-(?<![\w\-]-)p[ \t]++(?!-)" + _VALUE),
    "space-P": re.compile(r"-(?<![\w\-]-)P(?:[ \t]++(?!-)|(?=[\"']))" + _VALUE),
    "space-k": re.compile(r"-(?<![\w\-]-)k[ \t]++(?!-)" + _VALUE),  # openssl enc -k: the password
    "space-N": re.compile(r"-(?<![\w\-]-)N[ \t]++(?!-)" + _VALUE),  # ssh-keygen -N: the new passphrase
    "redis": re.compile(r"-(?<![\w\-]-)a[ \t]++(?!-)" + _VALUE),
    "ldap": re.compile(r"-(?<![\w\-]-)w[ \t]++(?!-)" + _VALUE),
    "user:pass": re.compile(r"-(?<![\w\-]-)(?:u|a|-user|-auth)(?:=|[ \t]++)['\"]?[^\s:'\"]{1,64}:([^\s'\"]{1,128}+)"),
    # Oracle's connect string: sqlplus scott/tiger@orcl.
    "user/pass": re.compile(r"[ \t]['\"]?[^\s/@'\"\-][^\s/@'\"]{0,63}/([^\s/@'\"]{1,128}+)"),
    "user,pass": re.compile(r"-(?<![\w\-]-)u[ \t]++['\"]?[^\s,'\"]{1,64},([^\s'\"]{1,128}+)"),
    "user%pass": re.compile(r"-(?<![\w\-]-)U[ \t]++['\"]?[^\s%'\"]{1,64}%([^\s'\"]{1,128}+)"),
    "htpasswd": re.compile(
        r"-(?<![\w\-]-)[a-zA-Z]{0,4}b[a-zA-Z]{0,4}(?:[ \t]++-[a-zA-Z]{1,4}){0,3}[ \t]++[^\s-]\S{0,255}[ \t]++\S{1,64}"
        r"[ \t]++" + _VALUE
    ),
    # htpasswd -n prints instead of writing a file: user and password follow the flags directly.
    "htpasswd -n": re.compile(
        r"-(?<![\w\-]-)(?=[a-zA-Z]{0,8}n)(?=[a-zA-Z]{0,8}b)[a-zA-Z]{2,8}(?:[ \t]++-[a-zA-Z]{1,4}){0,3}[ \t]++"
        r"[^\s-]\S{0,63}+[ \t]++" + _VALUE
    ),
    "rabbitmq": re.compile(r"(?:add_user|change_password)[ \t]++\S{1,64}[ \t]++" + _VALUE),
    "net use": re.compile(r"/user:\S{1,64}[ \t]++(?![/*])" + _VALUE),
    # wpa_passphrase SSID PASSPHRASE
    "ssid pass": re.compile(r"[ \t]++[^\s\-<>|&]\S{0,63}+[ \t]++(?![>|&<-])" + _VALUE),
    # snmp community strings (-c) and v3 pass phrases (-A, -X); "public" and "private" are the defaults.
    "snmp": re.compile(r"-(?<![\w\-]-)[cAX][ \t]++(?!-|public(?!\S)|private(?!\S))" + _VALUE),
    # FreeRDP's /p:PASSWORD
    "rdp": re.compile(r"/(?<![\w/]/)p(?:assword)?:" + _VALUE),
    # gh secret set NAME -b"X" / --body X
    "gh body": re.compile(r"(?:-(?<![\w\-]-)b|--body)(?:[ \t=]++|(?=[\"']))" + _VALUE),
    # winrs -u:USER -p:X
    "winrs": re.compile(r"-(?<![\w\-]-)p(?:assword)?:" + _VALUE),
    # nmcli dev wifi connect SSID password X, nmcli con modify NAME wifi-sec.psk X
    "nmcli": re.compile(
        r"(?<![\w\-.])(?:password|wifi-sec\.psk|802-11-wireless-security\.psk)[ \t]++"
        r"""('[^'\n]{1,128}'|"[^"\n]{1,128}"|[^\s'"`|;&<>]{4,128}+)(?![^\s])"""
    ),
    # bundle config set HOST USER:PASSWORD
    "host user:pass": re.compile(r"[ \t][^\s:@/'\"\-][^\s:@/'\"]{0,63}:([^\s'\"/]{1,128}+)(?!\S)"),
    "net use share": re.compile(r"\\\\[^\s]{1,200}+[ \t]++(?![/*])" + _VALUE),  # net use \\srv\share X /user:u
    "net user": re.compile(r"(?<=[Uu][Ss][Ee][Rr])[ \t]++[^\s/]\S{0,63}+[ \t]++(?![/*])" + _VALUE),
}
_PROGRAM_FLAGS: dict[str, tuple[str, ...]] = {
    "mysql": ("mysql",), "mariadb": ("mysql",), "7z": ("7z",), "sshpass": ("space-p", "mysql"), "login": ("space-p",),
    "mongo": ("space-p",), "zip": ("space-P",), "unzip": ("space-P",), "sqlcmd": ("space-P",), "bcp": ("space-P",),
    "redis-cli": ("redis",), "ldap": ("ldap",), "curl": ("user:pass",), "wget": ("user:pass",),
    "http": ("user:pass",), "https": ("user:pass",), "xh": ("user:pass",), "lftp": ("user,pass",),
    "smbclient": ("user%pass",), "htpasswd": ("htpasswd", "htpasswd -n"), "rabbitmqctl": ("rabbitmq",),
    "net use": ("net use", "net use share"), "net user": ("net user",), "openssl": ("space-k",), "psexec": ("space-p",),
    "ssh-keygen": ("space-N", "space-P"), "mosquitto": ("space-P",), "sqlplus": ("user/pass",),
    "rman": ("user/pass",), "expdp": ("user/pass",), "impdp": ("user/pass",), "wpa_passphrase": ("ssid pass",),
    "snmp": ("snmp",), "freerdp": ("rdp",), "bundle config": ("host user:pass",), "http-basic": ("ssid pass",),
    "mc": ("ssid pass",), "gh secret set": ("gh body",), "winrs": ("winrs",), "nmcli": ("nmcli",),
}  # fmt: skip
_NOT_CLI_VALUES = ("env:", "file:", "fd:", "stdin")
# Any program given a user and then a password: -u NAME -p X, --username NAME --password X. After -u, -p is
# a password when its value reads as one: not a port or a port mapping (docker run -u 1000 -p 8080:80), a pid
# (ps -u bob -p 42) or a word (journalctl -u nginx -p err).
_USER_THEN_PASSWORD = re.compile(
    r"-(?<![\w\-]-)(?:[uU]|-user(?:name)?)(?:=|[ \t]++)['\"]?[^\s'\"\-][^\s'\"]{0,63}+['\"]?[ \t]++"
    r"-(?:[pP]|-pass(?:word)?)(?:=|[ \t]++)(?!-)" + _VALUE
)
# expect's send after a password prompt: expect "password:"; send "X\r".
_EXPECT_SEND = re.compile(r"send(?:[ \t]++--)?[ \t]++\"([^\"\\\n]{1,128}+)\\[rn]\"")  # send -- "X\r" too
# A cracked hash and its plain text, as hashcat and john print them: 5f4dcc3b...:X.
_CRACKED = re.compile(r"(?<![0-9a-f])(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}):([^\s:]{1,128}+)")
_CRACKED_CONTEXT = re.compile(r"hashcat|john|crack|recovered")
# A help text's placeholder for the value (--password PASSWORD, --token=TOKEN).
_METAVAR = re.compile(r"<?[A-Z][A-Z_\-]{2,}+>?")
_PORT_LIKE = re.compile(r"[0-9.:\[\]]++(?:/(?:tcp|udp|sctp))?")
# Programs whose "-p NAME" (with a space) prompts for the password and names a database instead.
_PROMPTING_P = re.compile(r"(?<![\w\-])(?:mysql|mariadb)")
# PowerShell: ConvertTo-SecureString 'X' -AsPlainText (the plain text is the password).
_SECURE_STRING = re.compile(r"(?i:convertto-securestring)[ \t]++(?:(?i:-string)[ \t]++)?" + _VALUE)
# A here-string fed to a program that reads a password from standard input.
_HERE_STRING = re.compile(r"<<<[ \t]*+" + _VALUE)
_READS_A_PASSWORD = ("passphrase-fd", "password-stdin", "--stdin", "chpasswd", "passwd")
# A .pgpass line: host:port:database:user:password.
_PGPASS_LINE = re.compile(
    r"^[^:\s]{1,255}+:(?:[0-9]{1,5}|\*):[^:\s]{1,63}+:[^:\s]{1,63}+:([^\s]{1,128}+)$", re.MULTILINE
)
_LINE_WIDTH = 512


def _line_around(text: str, i: int) -> str:
    """The line holding ``text[i]``, at most :data:`_LINE_WIDTH` characters either side."""
    lo = text.rfind("\n", max(0, i - _LINE_WIDTH), i) + 1 or max(0, i - _LINE_WIDTH)
    hi = text.find("\n", i, i + _LINE_WIDTH)
    return text[lo : hi if hi != -1 else min(len(text), i + _LINE_WIDTH)]


def _program_key(name: str) -> str:
    for prefix in ("mysql", "mariadb", "7z", "mongo", "ldap", "psexec", "mosquitto", "snmp"):
        if name.startswith(prefix):
            return prefix
    if name.endswith(("freerdp", "freerdp2", "freerdp3")):
        return "freerdp"
    if name.startswith("bundle"):
        return "bundle config"
    if "http-basic" in name:
        return "http-basic"
    if name.startswith(("mc ", "mc\t")):
        return "mc"
    if name.startswith("gh"):
        return "gh secret set"
    if name.endswith("login"):
        return "login"
    return " ".join(name.split()) if name.startswith("net") else name


def _cli_value(text: str, m: re.Match[str]) -> Iterator[_Candidate]:
    start, end = m.start(1), m.end(1)
    if end - start >= 2 and text[start] in "'\"" and text[end - 1] == text[start]:
        start, end = start + 1, end - 1
    value = text[start:end]
    if value.startswith("pass:"):  # openssl's -passin/-passout pass:SECRET
        start, value = start + 5, value[5:]
    if len(value) < 3 or value.startswith(_NOT_CLI_VALUES) or value[0] in "$%{<*[#(`-":
        return
    if len(set(value)) <= 2 and not (value.isdigit() and len(set(value)) == 2):
        return  # a mask (xxxx, ****), but "zip -P 4411" is a PIN
    yield start, end, "SECRET"


def _command_line_secrets(scan: _Scan) -> Iterator[_Candidate]:
    text, lower = scan.text, scan.lower
    if "pass" in lower or "PASS" in text or "-pw" in text:
        for m in _PASSWORD_FLAG.finditer(text):
            if not _METAVAR.fullmatch(m.group(1)):
                yield from _cli_value(text, m)
    if "send" in text:
        for m in _EXPECT_SEND.finditer(text):
            if any(w in lower[max(0, m.start() - 80) : m.start()] for w in ("pass", "assword", "phrase")):
                yield from _cli_value(text, m)
    if "-u" in text or "-U" in text:
        for m in _USER_THEN_PASSWORD.finditer(text):
            value = m.group(1).strip("'\"")
            password_shaped = _looks_like_password(value, quoted=False) and not _PORT_LIKE.fullmatch(value)
            if password_shaped and not _PROMPTING_P.search(_line_around(lower, m.start())):
                yield from _cli_value(text, m)
    if "securestring" in lower:
        for m in _SECURE_STRING.finditer(text):
            yield from _cli_value(text, m)
    if "<<<" in text:
        for m in _HERE_STRING.finditer(text):
            line = _line_around(lower, m.start())
            if any(w in line for w in _READS_A_PASSWORD) or ("sudo" in line and " -s" in line):
                yield from _cli_value(text, m)
    if text.count(":") >= 4:
        for m in _PGPASS_LINE.finditer(text):
            yield from _cli_value(text, m)
    if "echo" in text:
        for rx in (_ECHO_TO_SUDO, _ECHO_TO_STDIN) if "sudo" in text else (_ECHO_TO_STDIN,):
            for m in rx.finditer(text):
                yield from _cli_value(text, m)
        for m in _ECHO_VALUE.finditer(text):
            start, end = m.start(1), m.end(1)
            if text[start] in "'\"":
                start, end = start + 1, end - 1
            line = _line_around(lower, m.start())
            if not _ECHO_READERS.search(line.replace(lower[start:end], "")):
                continue
            if "chpasswd" in line and ":" in text[start:end]:
                start = text.index(":", start, end) + 1  # user:password
            value = text[start:end]
            if _looks_like_password(value, quoted=False) or _is_gibberish(value):
                yield start, end, "SECRET"
    if "command" in lower or "cmd" in lower:
        for m in _PASSWORD_COMMAND.finditer(lower):
            yield from _cli_value(text, m)
    if _CRACKED_CONTEXT.search(lower):
        for m in _CRACKED.finditer(lower):
            if _CRACKED_CONTEXT.search(_line_around(lower, m.start())):
                yield m.start(1), m.end(1), "SECRET"
    if not _CLI_PROGRAM.search(text):
        return
    line_start = 0
    for line in text.splitlines(keepends=True):
        flags: dict[str, int] = {}
        for program in _CLI_PROGRAM.finditer(line):
            for flag in _PROGRAM_FLAGS[_program_key(program.group(1))]:
                flags.setdefault(flag, program.end())
        for flag, after in flags.items():
            for m in _CLI_FLAGS[flag].finditer(text, line_start + after, line_start + len(line)):
                yield from _cli_value(text, m)
        line_start += len(line)


# EMAIL spelled out: "jane dot doe at example dot org", "bob [at] example [dot] net", "a.b at example.pl". Found
# from each "at" separator; the local part is read backwards and the domain forwards, both bounded, so each
# separator costs a bounded amount. The last label must be a top-level domain; with a bare " at " and literal
# dots the local part must hold a dot, an underscore or a digit too ("look at setup.py" is not an address).
# Other languages' words for "at" (arroba, chiocciola, Klammeraffe) and "dot" (punto, ponto, point, punt) count too,
# bracketed; spaced out in prose only the unambiguous ones.
_AT_SEPARATOR = re.compile(
    r"[ \t]*+[\[({<](?:at|arroba|chiocciola|klammeraffe|ät)[\])}>][ \t]*+|[ \t]++(?:at|arroba|chiocciola)[ \t]++"
    r"|[ \t]++-(?:at|arroba)-[ \t]++|(?P<sign>@)"  # "d.mueller -at- example -dot- de", "ana@example dot pt"
)
_DOT_SEPARATOR = (
    r"(?:[ \t]++(?:dot|punkt|punto|ponto)[ \t]++|[ \t]*+[\[({<](?:dot|punkt|punto|ponto|point|punt|\.)[\])}>][ \t]*+"
    r"|[ \t]++-(?:dot|punkt|punto)-[ \t]++)"
)
_SPELLED_LOCAL = re.compile(
    rf"(?<![a-z0-9._%+\-])(?:[a-z0-9_%+\-][a-z0-9._%+\-]{{0,63}}{_DOT_SEPARATOR}){{0,3}}[a-z0-9_%+\-][a-z0-9._%+\-]{{0,63}}$"
)
_SPELLED_DOMAIN = re.compile(
    rf"[a-z0-9][a-z0-9\-]{{0,62}}(?:(?:{_DOT_SEPARATOR}|\.)[a-z0-9][a-z0-9\-]{{0,62}}){{1,4}}(?![a-z0-9\-])"
)
_SPELLED_WINDOW = 160
# "noa-at-example-dot-com": joined by dashes, no spaces; the local part and the labels hold no dash then, so
# the one possessive match costs its length.
_DASHED_ADDRESS = re.compile(
    r"(?<![a-z0-9._%+\-])[a-z0-9_%+][a-z0-9._%+]{0,63}+-at-[a-z0-9]{1,63}+(?:-dot-[a-z0-9]{1,63}+){1,4}+(?![a-z0-9\-])"
)
# "peter_at_example_dot_com": the same joined by underscores (then the local part holds none).
_UNDERSCORED_ADDRESS = re.compile(
    r"(?<![a-z0-9._%+\-])[a-z0-9%+][a-z0-9.%+\-]{0,63}+_at_[a-z0-9\-]{1,63}+(?:_dot_[a-z0-9\-]{1,63}+){1,4}+"
    r"(?![a-z0-9_])"
)
# Words for "at" that only an address uses (French arobase, Dutch apenstaartje, Polish małpa...): after one, the
# local words for "dot" count too, "point", "punt", "kropka" among them, which prose uses everywhere else.
_FOREIGN_AT_WORDS = ("arobase", "apenstaartje", "małpa", "malpa", "klammeraffe", "arroba", "chiocciola", "zavináč",
                     "snabel-a", "kukac", "собака")  # fmt: skip
_FOREIGN_AT = re.compile(rf"[ \t]++(?:{'|'.join(_FOREIGN_AT_WORDS)})[ \t]++")
_FOREIGN_DOT = r"[ \t]++(?:dot|punkt|punktum|punto|ponto|point|punt|kropka|tečka|pont|piste|nokta|точка)[ \t]++"
_FOREIGN_LOCAL = re.compile(
    rf"(?<![a-z0-9._%+\-])(?:[a-z0-9_%+\-][a-z0-9._%+\-]{{0,63}}{_FOREIGN_DOT}){{0,3}}[a-z0-9_%+\-][a-z0-9._%+\-]{{0,63}}$"
)
_FOREIGN_DOMAIN = re.compile(
    rf"[a-z0-9][a-z0-9\-]{{0,62}}(?:(?:{_FOREIGN_DOT}|\.)[a-z0-9][a-z0-9\-]{{0,62}}){{1,4}}(?![a-z0-9\-])"
)
_SPELLED_TRIGGERS = ("at", "@", *_FOREIGN_AT_WORDS)
# Documentation's reserved names (RFC 2606) end spelled addresses as a top-level domain does.
_RESERVED_TLDS = frozenset({"example", "invalid"})
_COMMON_TLDS = frozenset(
    ("com", "org", "net", "edu", "gov", "mil", "int", "io", "co", "uk", "de", "fr", "es", "it", "nl", "pl", "ru",
     "jp", "cn", "in", "br", "au", "ca", "ch", "se", "no", "fi", "dk", "be", "at", "eu", "us", "info", "biz", "dev",
     "app", "me", "ai", "tv", "cc", "ie", "pt", "gr", "cz", "sk", "hu", "ro", "bg", "hr", "si", "lt", "lv", "ee",
     "il", "tr", "za", "mx", "ar", "cl", "nz", "sg", "hk", "tw", "kr", "vn", "id", "my", "ph", "th", "ua", "by", "kz",
     "email", "mail", "online", "tech", "cloud")
)  # fmt: skip


def _spelled_emails(scan: _Scan) -> Iterator[_Candidate]:
    lower = scan.lower
    if not any(w in lower for w in _SPELLED_TRIGGERS):
        return
    if "-at-" in lower:
        for m in _DASHED_ADDRESS.finditer(lower):
            if m.group().rsplit("-dot-", 1)[1] in _COMMON_TLDS:
                yield m.start(), m.end(), "EMAIL"
    if "_at_" in lower:
        for m in _UNDERSCORED_ADDRESS.finditer(lower):
            if m.group().rsplit("_dot_", 1)[1] in _COMMON_TLDS:
                yield m.start(), m.end(), "EMAIL"
    if any(w in lower for w in _FOREIGN_AT_WORDS):
        for sep in _FOREIGN_AT.finditer(lower):
            local = _FOREIGN_LOCAL.search(lower, max(0, sep.start() - _SPELLED_WINDOW), sep.start())
            domain = _FOREIGN_DOMAIN.match(lower, sep.end())
            if local and domain:
                tld = re.split(_FOREIGN_DOT + r"|\.", domain.group())[-1]
                if tld in _COMMON_TLDS or (len(tld) == 2 and tld.isalpha()):
                    yield local.start(), domain.end(), "EMAIL"
    for sep in _AT_SEPARATOR.finditer(lower):
        explicit = sep.group().strip() != "at"  # bracketed, or a word only an address uses (arroba)
        window = max(0, sep.start() - _SPELLED_WINDOW)
        local = _SPELLED_LOCAL.search(lower, window, sep.start())
        domain = _SPELLED_DOMAIN.match(lower, sep.end())
        if not local or not domain or (local.start() == window and window > 0):
            continue
        labels = re.split(_DOT_SEPARATOR + r"|\.", domain.group())
        spelled_dots = len(labels) - 1 > domain.group().count(".")
        if sep.group("sign") and not spelled_dots:
            continue  # a written "@" with written dots: the plain e-mail rule judges it
        # Any alphabetic top-level domain when both separators are bracketed ("nina {at} studio {dot} design"):
        # nobody writes prose that way.
        bracketed = explicit and spelled_dots and not re.search(r"[ \t](?:dot|punto|ponto)[ \t]", domain.group())
        tld = labels[-1]
        short_tld = len(tld) == 2 and spelled_dots
        tld_ok = tld in _COMMON_TLDS or (tld.isalpha() and (short_tld or (bracketed and len(tld) <= 12)))
        tld_ok = tld_ok or (tld in _RESERVED_TLDS and spelled_dots)
        if not tld_ok:
            continue
        # "send it to tom at example.com": a one-word name at a domain is a mailbox after a word about mail.
        plain = not (explicit or spelled_dots or any(c in local.group() for c in "._0123456789"))
        if plain and not _MAIL_WORDS.search(lower, max(0, local.start() - _MAIL_CONTEXT), local.start()):
            continue
        if local.group().rstrip(".") in _NOT_LOCAL_PARTS:
            continue
        if re.sub(_DOT_SEPARATOR, ".", local.group()) in _TEMPLATE_LOCAL_PARTS and _FORMAT_WORDS.search(
            lower, max(0, local.start() - _FORMAT_CONTEXT), domain.end() + _FORMAT_CONTEXT
        ):
            continue  # "name dot surname at example dot org is our format": how addresses are made, not one
        one_word = not re.search(_DOT_SEPARATOR, local.group())
        if not explicit and one_word and _DETERMINER_BEFORE.search(lower, max(0, local.start() - 8), local.start()):
            continue  # "the talk at PyCon dot org": a thing somewhere, not a mailbox
        yield local.start(), domain.end(), "EMAIL"


_MAIL_WORDS = re.compile(r"(?<![a-z])(?:e-?mail|mail|send|sent|write|reach|contact|ping|cc|forward|reply)(?![a-z])")
_MAIL_CONTEXT = 40
# Words that precede " at " in prose far more often than they name a mailbox.
_NOT_LOCAL_PARTS = frozenset(
    {"look", "is", "was", "are", "be", "me", "us", "them", "him", "it", "this", "that", "am", "i", "we", "you", "he",
     "she", "they", "here", "there", "now", "been", "stay", "live", "work", "home", "team", "office", "thread", "out",
     "up", "in", "on", "off", "back", "one", "all", "docs", "details", "page", "site", "link"}
)  # fmt: skip
_TEMPLATE_LOCAL_PARTS = frozenset(
    {"name.surname", "first.last", "firstname.lastname", "first_name.last_name", "first.lastname", "name.lastname",
     "firstname.surname", "vorname.nachname", "prenom.nom", "nombre.apellido", "yourname", "your.name"}
)  # fmt: skip
_FORMAT_WORDS = re.compile(r"format|pattern|convention|scheme|template|naming|placeholder")
_FORMAT_CONTEXT = 60
_DETERMINER_BEFORE = re.compile(r"(?<![a-z])(?:the|an?|this|that|my|our|your|his|her|their|its|every)[ \t]++$")


# --------------------------------------------------------------------------------------------------------------
# URL with credentials, a query string, or a fragment carrying parameters. Found from each "://": the scheme is
# read backwards (at most 16 characters), the rest forwards as one possessive run.

_SCHEME_SEPARATOR = re.compile("://")
_SCHEME_CHARS = frozenset(string.ascii_letters + string.digits + "+.-")
_MAX_SCHEME = 16
_URL_BODY = re.compile(r"[^\s<>\"'`{}|\\^]++")
_URL_TRAILING = ".,;:!?*"


def _trim_url(url: str) -> str:
    """Drop sentence punctuation and unbalanced closing brackets from the end of a matched URL (one pass:
    the bracket counts are kept, not recounted per character)."""
    opened = {")": url.count("("), "]": url.count("[")}
    closed = {")": url.count(")"), "]": url.count("]")}
    end = len(url)
    while end:
        last = url[end - 1]
        if last in closed and closed[last] > opened[last]:
            closed[last] -= 1
        elif last not in _URL_TRAILING:
            break
        end -= 1
    return url[:end]


def _urls(scan: _Scan) -> Iterator[_Candidate]:
    text = scan.text
    if "://" not in text:
        return
    consumed = 0
    for sep in _SCHEME_SEPARATOR.finditer(text):
        if sep.start() < consumed:
            continue
        start = sep.start()
        while start > 0 and sep.start() - start < _MAX_SCHEME and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        if start == sep.start() or not text[start].isalpha() or (start > 0 and text[start - 1] in _SCHEME_CHARS):
            continue
        body = _URL_BODY.match(text, sep.end())
        if not body:
            continue
        consumed = body.end()
        url = _trim_url(text[start : body.end()])
        rest = url[sep.end() - start :]
        cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i != -1), default=len(rest))
        at = rest.rfind("@", 0, cut)
        userinfo = rest[:at] if at > 0 else ""
        query = url.partition("?")[2].partition("#")[0]
        fragment = url.partition("#")[2]
        credentials = userinfo and userinfo.lower() != "git" and not _placeholder_userinfo(userinfo)
        if not (credentials or query or "=" in fragment):
            continue
        # A secret in a parameter (?api_key=X, &sig=X, #access_token=X) is typed SECRET; the rest stays a URL.
        pos, end = start, start + len(url)
        params = url.find("?") if query else url.find("#")
        for p in _QUERY_PARAM.finditer(text, start + params, end):
            if _query_secret(p.group(1).lower(), p.group(2)):
                if p.start(2) > pos:
                    yield pos, p.start(2), "URL"
                yield p.start(2), p.end(2), "SECRET"
                pos = p.end(2)
        if end > pos:
            yield pos, end, "URL"


_QUERY_PARAM = re.compile(r"(?<=[?&#;])([A-Za-z0-9_.\-]{1,64}+)=([^&#;\s]{1,512}+)")
_NOT_SECRET_PARAMS = re.compile(r"page|cursor|next|continuation|sync|type|expires|hint")
_PLACEHOLDER_PASSWORDS = frozenset({"password", "passwd", "pass", "pwd", "pw", "secret", "changeme", "xxx", "xxxx"})


def _query_secret(name: str, value: str) -> bool:
    """Whether a URL parameter carries a secret: its name names one (key material after a weak name such as
    sig or key) and its value reads as one."""
    weak = _names_a_secret(name)
    if weak is None or _NOT_SECRET_PARAMS.search(name):
        return False
    if weak:
        return _is_key_material(value)
    return _is_key_material(value) or (len(value) >= 8 and _looks_like_secret_value(value, quoted=False, literal=True))


def _placeholder_userinfo(userinfo: str) -> bool:
    """A URL's user-info whose password is a placeholder (user:password@, app:$(DB_PASSWORD)@, u:${PASS}@)."""
    password = userinfo.partition(":")[2]
    if not password:
        return False
    low = password.lower()
    return password[0] in "$%{<[*" or low in _PLACEHOLDER_PASSWORDS or bool(_PLACEHOLDER_PART.search(low))


# --------------------------------------------------------------------------------------------------------------
# EMAIL

# Names only a local network resolves: user@raspberrypi.local is a login, not an address.
_NOT_MAIL_TLDS = frozenset({"local", "localhost", "localdomain", "internal", "lan"})
# The local part may hold an apostrophe (o'neil@...); a quote that opens the address is trimmed off again.
_EMAIL = re.compile(r"(?<![\w.+%'\-])[\w.+%'\-]++@[\w\-]++(?:\.[\w\-]++)++")


# user:password@host without a scheme (a Go DSN "app:X@tcp(db:3306)/shop", a proxy setting).
_USERINFO = re.compile(r":([^\s@/:'\"]{1,128}+)@[A-Za-z0-9(\[]")  # found from the colon, the user read back
_USER_BEFORE_COLON = re.compile(r"(?<![\w.:/@%+\-])[A-Za-z0-9_.\-]{1,64}$")


def _emails(scan: _Scan) -> Iterator[_Candidate]:
    text = scan.text
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        local, _, domain = m.group().partition("@")
        start = m.start() + len(local) - len(local.lstrip("'"))
        local = local.lstrip("'")
        tld = domain.rsplit(".", 1)[-1]
        if not (len(tld) >= 2 and tld.isalpha()) or not local or local[0] == "." or local[-1] in ".'":
            continue
        if tld.lower() in _NOT_MAIL_TLDS:
            continue  # user@host.local: a login on a machine (ssh, scp), no mailbox
        if local == "git" and text.startswith(":", m.end()):
            continue  # scp-style git remote (git@github.com:org/repo.git), not an address
        if _before(text, start, 2) == "//":
            continue  # the user part of a URL (ssh://git@host/...): the URL rule judges it
        yield start, m.end(), "EMAIL"
        if text.startswith(":", m.end()):  # relay@example.com:X (postfix's sasl_passwd, a user:password pair)
            found = _BARE_VALUE.match(text, m.end() + 1)
            if found and (_is_complex_password(found.group()) or _is_key_material(found.group())):
                yield found.start(), found.end(), "SECRET"
    if ":" in text:
        for m in _USERINFO.finditer(text):
            if _USER_BEFORE_COLON.search(text, max(0, m.start() - 65), m.start()) and (
                _is_complex_password(m.group(1)) or _is_key_material(m.group(1))
            ):
                yield m.start(1), m.end(1), "SECRET"


# --------------------------------------------------------------------------------------------------------------
# IBAN: country code and check digits, then the body in groups; length by country; mod-97.

# ISO 13616 registry lengths (SWIFT IBAN registry).
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN_START = re.compile(r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z][0-9]{2}(?=[ \-]?[A-Za-z0-9])")


@lru_cache(maxsize=64)
def _iban_body(length: int) -> re.Pattern[str]:
    """The rest of an IBAN of ``length`` characters after its first four: alphanumerics, each optionally
    preceded by one space or hyphen (unambiguous, so no backtracking), then no further alphanumeric."""
    return re.compile(rf"(?:[ \-]?[A-Za-z0-9]){{{length - 4}}}(?![A-Za-z0-9])")


def _ibans(scan: _Scan) -> Iterator[_Candidate]:
    text = scan.text
    if not scan.has_digit:
        return
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(m.group()[:2])
        if length is None:
            continue
        body = _iban_body(length).match(text, m.end())
        if body and _iban_checksum_ok((m.group() + _GROUP_SEPARATOR.sub("", body.group())).upper()):
            yield m.start(), body.end(), "IBAN"


def _iban_checksum_ok(iban: str) -> bool:
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


# --------------------------------------------------------------------------------------------------------------
# CARD: digit groups; windows shaped like card groupings; issuer prefix; Luhn.

_DIGIT_GROUPS = re.compile(r"[0-9](?<![\w.\-][0-9])[0-9]*+(?:[ \-][0-9]++)*+")
_GROUP_SEPARATOR = re.compile(r"[ \-]")
# Group shapes in which card numbers are written (Visa/MC/Discover 4-4-4-4 and longer, Amex 4-6-5,
# Diners 4-6-4); a single unbroken group of 13-19 digits is accepted too.
_CARD_SHAPES: tuple[tuple[int, ...], ...] = (
    (4, 4, 4, 4, 3), (4, 4, 4, 4, 2), (4, 4, 4, 4, 1), (4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 5),
    (4, 4, 4, 3), (4, 4, 4, 2), (4, 4, 4, 1),
)  # fmt: skip
_CARD_PREFIXES = ("2", "3", "4", "5", "6")
# Text right before a number that says it is an identifier (order #..., invoice no. ...), not a card or phone.
_ID_MARKER = re.compile(
    r"(?i)(?:#|\b(?:order|invoice|ticket|tracking|ref|reference|build|issue|pr|job|run)\b\.?\s*"
    r"(?:#|no\.?|id|number)?)\s*[:=]?\s*$"
)


_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")  # digit -> digit sum of twice the digit


def _luhn_ok(digits: str) -> bool:
    rev = digits[::-1]
    return (sum(map(int, rev[0::2])) + sum(map(int, rev[1::2].translate(_LUHN_DOUBLED)))) % 10 == 0


def _cards(scan: _Scan) -> Iterator[_Candidate]:
    text = scan.text
    if not scan.has_digit:
        return
    for m in _DIGIT_GROUPS.finditer(text):
        if m.end() - m.start() < 13:
            continue
        groups: list[tuple[int, int]] = []  # (start, end) of each digit group
        pos = m.start()
        for part in _GROUP_SEPARATOR.split(m.group()):
            groups.append((pos, pos + len(part)))
            pos += len(part) + 1
        sizes = [e - s for s, e in groups]
        g = 0
        while g < len(groups):
            last = _card_at(text, groups, sizes, g)
            if last is None:
                g += 1
                continue
            s, e = groups[g][0], groups[last][1]
            if not _ID_MARKER.search(_before(text, s, 24)):
                yield s, e, "CARD"
            g = last + 1


def _card_at(text: str, groups: list[tuple[int, int]], sizes: list[int], g: int) -> int | None:
    """The index of the last group of a card number starting at group ``g``, or None."""
    if 13 <= sizes[g] <= 19:
        return g if _card_digits_ok(text[groups[g][0] : groups[g][1]]) else None
    if sizes[g] != 4:
        return None
    following = tuple(sizes[g : g + 5])
    for shape in _CARD_SHAPES:
        if following[: len(shape)] != shape:
            continue
        last = g + len(shape) - 1
        if len({text[groups[k][1]] for k in range(g, last)}) != 1:
            continue  # mixed separators: not one number
        if _card_digits_ok("".join(text[a:b] for a, b in groups[g : last + 1])):
            return last
    return None


def _card_digits_ok(digits: str) -> bool:
    return digits.startswith(_CARD_PREFIXES) and len(set(digits)) > 1 and _luhn_ok(digits)


# --------------------------------------------------------------------------------------------------------------
# SSN

_SSN = re.compile(r"([0-9](?<![\w\-][0-9])[0-9]{2})-([0-9]{2})-([0-9]{4})(?![\w\-])")
_SSN_CONTEXT = re.compile(
    r"(?:ssn|social\s{1,3}security(?:\s{1,3}(?:number|no\.?|#))?)[a-z\s:#=.\"']{0,24}+"
    r"([0-9]{3})[ \-]?([0-9]{2})[ \-]?([0-9]{4})(?![0-9])"
)


def _ssn_ok(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _ssns(scan: _Scan) -> Iterator[_Candidate]:
    if not scan.has_digit:
        return
    for m in _SSN.finditer(scan.text):
        if _ssn_ok(*m.groups()):
            yield m.start(1), m.end(3), "SSN"
    lower = scan.lower
    if "ssn" in lower or "social" in lower:
        for m in _SSN_CONTEXT.finditer(lower):
            if not _word_char_before(lower, m.start()) and _ssn_ok(*m.groups()):
                yield m.start(1), m.end(3), "SSN"


# --------------------------------------------------------------------------------------------------------------
# DOB: a full date shortly after a birth keyword (keywords and dates are matched in the lower-cased copy).

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DOB_KEYWORD = re.compile(
    r"born|dob\b\.?|d\.o\.b\b\.?|date[\s_\-]{1,3}of[\s_\-]{1,3}birth|birth[\s_\-]{0,3}date|birthday|geburtsdatum"
    r"|geboren"
)
_DOB_TRIGGERS = ("born", "dob", "d.o.b", "birth", "geburt", "geboren")
_DOB_GAP = re.compile(r"(?:[\s:=,\"'()\-]|is\b|was\b|on\b|the\b|of\b|in\b){0,12}+")
_DATE = re.compile(
    rf"""(?x)(?:
        (?P<y1>[0-9]{{4}})(?P<s1>[-/.])(?P<m1>[0-9]{{1,2}})(?P=s1)(?P<d1>[0-9]{{1,2}})
      | (?P<a2>[0-9]{{1,2}})(?P<s2>[-/.])(?P<b2>[0-9]{{1,2}})(?P=s2)(?P<y2>[0-9]{{4}}|[0-9]{{2}})
      | {_MONTH}\.?\s(?P<d3>[0-9]{{1,2}})(?:st|nd|rd|th)?,?\s(?P<y3>[0-9]{{4}})
      | (?P<d4>[0-9]{{1,2}})(?:st|nd|rd|th)?\s(?:of\s)?{_MONTH}\.?,?\s(?P<y4>[0-9]{{4}})
    )(?![\w])"""
)


def _date_ok(m: re.Match[str]) -> bool:
    if m.group("y1"):
        return 1 <= int(m.group("m1")) <= 12 and 1 <= int(m.group("d1")) <= 31
    if m.group("a2"):
        a, b = int(m.group("a2")), int(m.group("b2"))
        return min(a, b) >= 1 and max(a, b) <= 31 and min(a, b) <= 12
    day = m.group("d3") or m.group("d4")
    return 1 <= int(day) <= 31


def _dobs(scan: _Scan) -> Iterator[_Candidate]:
    lower = scan.lower
    if not scan.has_digit or not any(k in lower for k in _DOB_TRIGGERS):
        return
    for k in _DOB_KEYWORD.finditer(lower):
        if _word_char_before(lower, k.start()):
            continue
        gap = _DOB_GAP.match(lower, k.end())
        d = _DATE.match(lower, gap.end() if gap else k.end())
        if d and _date_ok(d):
            yield d.start(), d.end(), "DOB"


# --------------------------------------------------------------------------------------------------------------
# IP

_IPV4 = re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}(?!\w|\.\w)")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f.]*+:[0-9A-Fa-f:.]*+(?!\w)")
# Words before a dotted quad that make it a version or a section number rather than an address.
_VERSION_CONTEXT = re.compile(
    r"(?i)(?:\bv|version|\bver\.?|release|build|firmware|kernel|python|node|java|bump(?:ed)?\s+to|upgrade(?:d)?\s+to"
    r"|section|chapter|clause|step|oid|==|>=|<=|~=)\s{0,2}[:=]?\s{0,2}$"
)


def _ips(scan: _Scan) -> Iterator[_Candidate]:
    text = scan.text
    if not scan.has_digit and "::" not in text:
        return
    if "." in text:
        for m in _IPV4.finditer(text):
            try:
                ipaddress.IPv4Address(m.group())
            except ValueError:
                continue
            if m.group() == "0.0.0.0":  # noqa: S104 - compared, not bound
                continue  # "any address" (a bind address), nobody's address
            if not _VERSION_CONTEXT.search(_before(text, m.start(), 16)):
                yield m.start(), m.end(), "IP"
    if "::" not in text and text.count(":") < 3:
        return
    for m in _IPV6.finditer(text):
        cand = m.group().rstrip(".")
        if cand.endswith(":") and not cand.endswith("::"):
            cand = cand[:-1]
        colons = cand.count(":")
        if colons < 2 or not (colons >= 3 or any(c.isdigit() for c in cand)):
            continue  # "a::b" is more likely C++ than an address
        try:
            ipaddress.IPv6Address(cand)
        except ValueError:
            continue
        yield m.start(), m.start() + len(cand), "IP"


# --------------------------------------------------------------------------------------------------------------
# PHONE: digit runs of phone-like size, judged by the phonenumbers matcher (dates, grouping, validity).
#
# The library costs 0.5-2 ms per look, so it is only shown stretches whose digit count could be a number in
# that form (a necessary condition, not a pattern of our own: the library decides), dates are cut out of runs
# first, results are cached within a text (logs repeat), and the looks per text are budgeted by its length.
# Past the budget (only digit soup gets there) every remaining stretch is redacted unverified: fail closed.

_PHONE_RUN = re.compile(r"[0-9](?<![\w.\-/#][0-9])(?:[0-9]|[ .\-/()\u00a0\u2010-\u2015]{1,3}(?=[0-9(]))*+")
_RUN_TOKEN = re.compile(r"\S++")
_DATE_TOKEN = re.compile(r"[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4}")
_NON_DIGIT = re.compile(r"[^0-9]+")
_LAST_DIGIT = re.compile(r"[0-9+](?=[^0-9+]*$)")
_FIRST_DIGIT = re.compile(r"[0-9]")
_PHONE_MIN_DIGITS = 7
_PHONE_WINDOW = 32  # characters of digits and separators handed to the library at once
_PHONE_CONTEXT = 8  # characters around a stretch the library sees (it rejects "$123..." and "abc123...")
_PHONE_MAX_TRIES = 4  # candidates the library may try per look
_PHONE_LOOKS_BASE = 32
_PHONE_CHARS_PER_LOOK = 128
# Ten-digit numbers that programmers write far more often than anyone dials them.
_NOT_PHONES = frozenset({"2147483647", "2147483648", "4294967295", "4294967296", "0123456789", "1234567890"})
# Where a number is written in national form starting with a trunk 0, these regions are tried in turn.
_TRUNK_ZERO_REGIONS = ("GB", "DE", "FR", "AU")


def _digit_count(s: str) -> int:
    return sum(map(s.count, "0123456789"))


def _phones(scan: _Scan) -> Iterator[_Candidate]:
    text = scan.text
    if not scan.has_digit:
        return
    looks = _PhoneLooks(len(text))
    for m in _PHONE_RUN.finditer(text):
        if m.end() - m.start() < _PHONE_MIN_DIGITS:
            continue
        start = m.start()
        # A leading "+", "(" or "(+" belongs to the number; what precedes it must not be part of a word.
        if start > 0 and text[start - 1] == "+":
            start -= 1
        if start > 0 and text[start - 1] == "(":
            start -= 1
        if start != m.start() and start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_+.-/#("):
            continue
        run = text[start : m.end()]
        if _digit_count(run) < _PHONE_MIN_DIGITS:
            continue
        segments: list[list[_Span]] = [[]]
        for tok in _RUN_TOKEN.finditer(run):
            if _DATE_TOKEN.fullmatch(tok.group()):
                segments.append([])  # a date splits the run: no number spans it
            else:
                segments[-1].append((start + tok.start(), start + tok.end()))
        if len(segments) > 1 and all(not seg for seg in segments):
            continue
        if _ID_MARKER.search(_before(text, start, 24)):
            continue
        for segment in segments:
            yield from _phones_in_segment(text, segment, looks)


def _phones_in_segment(text: str, tokens: list[_Span], looks: _PhoneLooks) -> Iterator[_Candidate]:
    """Numbers in the whitespace-separated tokens of one run: the whole stretch if it is one, else the longest
    plausible stretch from each token on."""
    if not tokens:
        return
    digits = [_digit_count(text[s:e]) for s, e in tokens]
    if sum(digits) < _PHONE_MIN_DIGITS:
        return
    whole = (tokens[0][0], tokens[-1][1])
    tried_whole = False
    if whole[1] - whole[0] <= _PHONE_WINDOW and _plausible_phone(text, whole, sum(digits)):
        tried_whole = True
        hits = _phone_look(text, whole, looks)
        if hits is None:
            yield (*whole, "PHONE")  # out of budget: fail closed
            return
        if hits:
            yield from hits
            return
    t = 0
    while t < len(tokens):
        matched_to = None
        lo, hi = _phone_digit_range(text, tokens[t][0])
        if hi:
            u, count = t, digits[t]
            while u + 1 < len(tokens) and tokens[u + 1][1] - tokens[t][0] <= _PHONE_WINDOW and count < hi:
                u += 1
                count += digits[u]
            for v in range(u, t - 1, -1):
                span = (tokens[t][0], tokens[v][1])
                n, count = count, count - digits[v]
                if n < lo:
                    break
                if n > hi or (tried_whole and span == whole):
                    continue
                hits = _phone_look(text, span, looks)
                if hits is None:
                    yield (tokens[t][0], whole[1], "PHONE")  # out of budget: fail closed
                    return
                if hits:
                    yield from hits
                    matched_to = v
                    break
        t = matched_to + 1 if matched_to is not None else t + 1


def _phone_digit_range(text: str, start: int) -> tuple[int, int]:
    """How many digits (at least, at most) a number written from ``start`` may have, judged by how it begins;
    (0, 0) if none. A necessary condition only: the library decides."""
    head = text[start : start + 8].lstrip("(")
    if head.startswith("+"):
        return 8, 15
    if head.startswith("00"):
        return 10, 17
    if head.startswith("0"):
        return 9, 12
    # North American numbers: ten digits not starting with 1, or eleven starting "1" then 2-9.
    if not head.startswith("1"):
        return 10, 10
    second = head[1:].lstrip(" .-()")[:1]
    return (11, 11) if second and second not in "01" else (0, 0)


def _plausible_phone(text: str, span: _Span, n: int) -> bool:
    """Whether ``n`` digits could be a number written as ``text[span]`` starts."""
    lo, hi = _phone_digit_range(text, span[0])
    return lo <= n <= hi and hi > 0


class _PhoneLooks:
    """The phone library's looks for one text: a budget, and a cache (logs repeat the same runs). Made per call,
    so no user text outlives the call in a module-level cache."""

    __slots__ = ("left", "seen")

    def __init__(self, text_length: int) -> None:
        self.left = _PHONE_LOOKS_BASE + text_length // _PHONE_CHARS_PER_LOOK
        self.seen: dict[tuple[str, str], tuple[_Span, ...]] = {}

    def spans(self, snippet: str, region: str) -> tuple[_Span, ...] | None:
        """Spans of valid, correctly grouped numbers in a short snippet; None once the budget is spent. A
        repeat costs little but still counts, so that digit soup ends in the fail-closed path quickly."""
        if self.left <= 0:
            return None
        self.left -= 1
        key = (snippet, region)
        if key in self.seen:
            return self.seen[key]
        matcher = phonenumbers.PhoneNumberMatcher(
            snippet, region, leniency=phonenumbers.Leniency.STRICT_GROUPING, max_tries=_PHONE_MAX_TRIES
        )
        found = self.seen[key] = tuple((match.start, match.end) for match in matcher)
        return found


def _phone_look(text: str, span: _Span, looks: _PhoneLooks) -> list[_Candidate] | None:
    """Valid numbers inside ``span`` (seen with a little context), or None when the budget is spent."""
    start, end = span
    if end - start <= 14 and _NON_DIGIT.sub("", text[start:end]) in _NOT_PHONES:
        return []
    head = text[start : start + 3].lstrip("(")
    regions: tuple[str, ...] = ("US",)  # also right for the international form: the region does not matter
    if head.startswith("00"):
        regions = ("DE",)  # 00 is the international prefix there (and in most of Europe)
    elif head.startswith("0"):
        regions = _TRUNK_ZERO_REGIONS
    # Context without digits: a neighbouring token of the same run would be read as part of the number.
    lead = max(0, start - _PHONE_CONTEXT)
    last = _LAST_DIGIT.search(text, lead, start)
    if last:
        lead = last.end()
    first = _FIRST_DIGIT.search(text, end, end + _PHONE_CONTEXT)
    snippet = text[lead : first.start() if first else min(len(text), end + _PHONE_CONTEXT)]
    for region in regions:
        spans = looks.spans(snippet, region)
        if spans is None:
            return None
        hits = [(lead + a, lead + b, "PHONE") for a, b in spans if lead + a >= start and lead + b <= end]
        if hits:
            return hits
    return []


# --------------------------------------------------------------------------------------------------------------
# PATH: home directories that name their user.

_HOME_POSIX = re.compile(r"/(?<![\w.\]]/)(?:home|Users|var/home|usr/home)/([A-Za-z0-9_][A-Za-z0-9._\-]{0,63}+)")
# Matched from the colon; the drive letter before it is checked by lookbehind.
_HOME_WINDOWS = re.compile(
    r":(?<=[A-Za-z]:)(?<![A-Za-z][A-Za-z]:)(?:\\{1,2}|/)(?i:users|documents and settings)(?:\\{1,2}|/)"
    r"([^\\/\s:*?\"<>|\[\]]{1,64}+)"
)
_HOME_TILDE = re.compile(r"~(?<![\w~/]~)([a-z_][a-z0-9_.\-]{0,31}+)(?=/)")
# Names that stand for "some user" in documentation, or shared folders, rather than a person.
_GENERIC_HOMES = frozenset(
    {"shared", "public", "default", "default user", "all users", "user", "username", "yourname", "your_name",
     "you", "name", "me", "someone", "example", "runner", "guest"}
)  # fmt: skip


def _paths(scan: _Scan) -> Iterator[_Candidate]:
    text = scan.text
    patterns: list[tuple[re.Pattern[str], int]] = []
    if "/home/" in text or "/Users/" in text:
        patterns.append((_HOME_POSIX, 0))
    if ":" in text and ("users" in scan.lower or "settings" in scan.lower):
        patterns.append((_HOME_WINDOWS, 1))
    if "~" in text:
        patterns.append((_HOME_TILDE, 0))
    for rx, back in patterns:
        for m in rx.finditer(text):
            name = m.group(1).rstrip(". ")
            if name and name.lower() not in _GENERIC_HOMES:
                yield m.start() - back, m.start(1) + len(name), "PATH"


# --------------------------------------------------------------------------------------------------------------
# Detectors in order of precedence: where two findings overlap, the earlier detector's wins.

_DETECTORS: tuple[_Detector, ...] = (
    _pem_blocks,
    _urls,
    _prefixed_secrets,
    _emails,
    _spelled_emails,
    _assigned_secrets,
    _command_line_secrets,
    _stated_secrets,
    _ibans,
    _cards,
    _ssns,
    _dobs,
    _ips,
    _phones,
    _paths,
    _random_tokens,
)
