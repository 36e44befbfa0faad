"""The sanitizer's labeled corpora, how they are scored, and the adversarial inputs: one definition that
``tests/test_sanitizer.py`` holds to floors and ``bench/sanitizer.py`` prints, so a label is read, a finding
judged and a slow input built the same way in both.

Corpus format: ``tests/data/sanitizer/README.md``. A label is a span of its line (its value, searched after the
previous occurrence of the same value). A label is recalled when a finding of its type overlaps it; a finding
is precise when it overlaps a label of its type; a label "leaks" when any character of it is covered by no
finding at all (of whatever type).
"""

from __future__ import annotations

import json
import random
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from llmojid.common.sanitizer import find_pii

DATA = Path(__file__).parent / "data" / "sanitizer"
CORPUS = DATA / "corpus.jsonl"
CREDENTIALS_DEV = DATA / "credentials-dev.jsonl"
CREDENTIALS_HELDOUT = DATA / "credentials-heldout.jsonl"
CREDENTIALS_DEV2 = DATA / "credentials-dev2.jsonl"
CREDENTIALS_DEV3 = DATA / "credentials-dev3.jsonl"
CREDENTIALS_DEV4 = DATA / "credentials-dev4.jsonl"
CREDENTIALS_DEV5 = DATA / "credentials-dev5.jsonl"
CREDENTIALS_HELDOUT2 = DATA / "credentials-heldout2.jsonl"

#: Every corpus, titled by what it may say: a split the rules were tuned on measures regressions only.
SPLITS: dict[str, Path] = {
    "regression corpus (written with the rules)": CORPUS,
    "credentials, dev split (tuned on)": CREDENTIALS_DEV,
    "credentials, held-out split (never tuned on)": CREDENTIALS_HELDOUT,
    "credentials, blind dev split (tuned on)": CREDENTIALS_DEV2,
    "credentials, third blind dev split (tuned on)": CREDENTIALS_DEV3,
    "credentials, fourth blind dev split (tuned on)": CREDENTIALS_DEV4,
    "credentials, fifth blind dev split (tuned on)": CREDENTIALS_DEV5,
    "credentials, blind held-out split (never tuned on)": CREDENTIALS_HELDOUT2,
}

Entry = dict[str, Any]


class Label(NamedTuple):
    type: str
    start: int
    end: int
    value: str


def load(path: Path) -> list[Entry]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def label_spans(entry: Entry) -> list[Label]:
    """The labels of one line as spans; a value that occurs twice is found after its previous occurrence."""
    spans = []
    after: Counter[str] = Counter()
    for kind, value in entry["pii"]:
        start = entry["text"].index(value, after[value])
        after[value] = start + 1
        spans.append(Label(kind, start, start + len(value), value))
    return spans


@dataclass
class Score:
    """Counts per type over one corpus, and each error as a line of text (the corpora are invented test data,
    so naming their values is fine here, unlike anywhere in the product)."""

    labels: Counter[str] = field(default_factory=Counter)
    recalled: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    precise: Counter[str] = field(default_factory=Counter)
    leaks: Counter[str] = field(default_factory=Counter)
    false_by_tag: Counter[str] = field(default_factory=Counter)
    negatives: int = 0
    touched: int = 0  # look-alike lines (no label) with any finding
    errors: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return sum(self.precise.values()) / max(1, sum(self.found.values()))

    @property
    def recall(self) -> float:
        return sum(self.recalled.values()) / max(1, sum(self.labels.values()))

    @property
    def kept(self) -> float:
        """Share of look-alike lines left untouched."""
        return 1 - self.touched / self.negatives if self.negatives else 1.0


def score(corpus: list[Entry]) -> Score:
    result = Score()
    for number, entry in enumerate(corpus, 1):
        text = entry["text"]
        gold = label_spans(entry)
        pred = find_pii(text)
        for kind, s, e, value in gold:
            result.labels[kind] += 1
            if any(f.type == kind and f.start < e and s < f.end for f in pred):
                result.recalled[kind] += 1
            else:
                result.errors.append(f"missed {kind:6s} line {number}: {value!r} in {text!r}")
            if sum(max(0, min(e, f.end) - max(s, f.start)) for f in pred) < e - s:
                result.leaks[kind] += 1
                result.errors.append(f"leaked {kind:6s} line {number}: part of {value!r} stays in {text!r}")
        for f in pred:
            result.found[f.type] += 1
            if any(kind == f.type and f.start < e and s < f.end for kind, s, e, _ in gold):
                result.precise[f.type] += 1
            else:
                result.false_by_tag[entry.get("tag", "(positive line)")] += 1
                result.errors.append(f"false  {f.type:6s} line {number}: {text[f.start : f.end]!r} in {text!r}")
        if not gold:
            result.negatives += 1
            result.touched += bool(pred)
    return result


# ------------------------------------------------------------------------------------------------------------
# Adversarial inputs: each builds a text of n characters that would make a backtracking pattern blow up.
# The tests run each once at a size where a quadratic scan would take minutes; the bench times each at four
# sizes and prints how the time grows. Every round of rules adds one input per new rule family.

Make = Callable[[int], str]


def _repeat(unit: str, tail: str = "") -> Make:
    return lambda n: (unit * (n // len(unit) + 1))[: max(0, n - len(tail))] + tail


def _random_text(alphabet: str, seed: int, head: str = "") -> Make:
    def make(n: int) -> str:
        rnd = random.Random(seed)
        return head + "".join(rnd.choice(alphabet) for _ in range(n - len(head)))

    return make


def _phone_soup(n: int) -> str:
    rnd = random.Random(3)
    parts = [
        f"{rnd.randrange(200, 999)} {rnd.randrange(200, 999)} {rnd.randrange(10000):04d}" for _ in range(n // 13 + 1)
    ]
    return " ".join(parts)[:n]


ADVERSARIAL: dict[str, Make] = {
    "versions-and-dates": _repeat("The build 1.2.3 shipped on 2024-01-15; see section 4 for the notes. "),
    "letters": _repeat("a"),
    "digits": _repeat("1"),
    "digits-spaces": _repeat("1 "),
    "digits-dots": _repeat("1."),
    "random-digits-dashes": _random_text("0123456789 -", 1),
    "phone-soup": _phone_soup,
    "dots-then-at": _repeat("a.", "@x"),
    "at-dots": _repeat("@a."),
    "url-parens": lambda n: "http://a/" + ")" * (n - 9),
    "scheme-separators": _repeat("x://"),
    "pem-begins": _repeat("-----BEGIN RSA PRIVATE KEY-----\n"),
    "pem-ends": _repeat("-----END RSA PRIVATE KEY-----"),
    "assignments": _repeat("password="),
    "quoted-assignments": _repeat('"password": "'),
    "colons": _repeat("::"),
    "hex-colons": _repeat("1:a:"),
    "iban-starts": _repeat("DE89 "),
    "card-groups": _repeat("4111 "),
    "birth-keywords": _repeat("born DOB 1985-"),
    "tildes": _repeat("~a"),
    "homes": _repeat("/home/a"),
    "base64": _random_text(string.ascii_letters + string.digits + "+/", 2),
    "parens": _repeat("("),
    "plus-ones": _repeat("+1 "),
    "spelled-at-dot": _repeat("a dot b at c dot "),
    "bracket-at": _repeat("a [at] "),
    "mysql-p": _repeat("mysql -p"),
    "curl-u": _repeat("curl -u a:"),
    "password-is": _repeat("password is "),
    "password-for": _repeat("password for the a b c "),
    "key-assignments": _repeat("AccountKey="),
    "password-flags": _repeat("--password "),
    "echo-sudo": _repeat("echo a | ", "sudo -S"),
    "htpasswd": _repeat("htpasswd -b "),
    "prompts-without-colon": _repeat("passphrase for a "),
    "credential-pairs": _repeat("creds: a "),
    "login-with": _repeat("login a with "),
    "typed-values": _repeat("typed a1b2c3 password "),
    "sql-identified-by": _repeat("identified by "),
    "authorization-headers": _repeat("Authorization: x "),
    "sqlplus-connect": _repeat("sqlplus a/"),
    "net-user": _repeat("net user a "),
    "token-prefixes": _repeat("hvs.SG.a"),
    "stated-with-words": _repeat("the token I a b is "),
    "stated-without-link": _repeat("password a, b, c, d "),
    "passphrase-words": _repeat("passphrase: amber lantern "),
    "use-pairs": _repeat("use a / "),
    "named-variables": _repeat("_token is "),
    "code-logins": _repeat("login('a', "),
    "xml-unclosed": _repeat("<a_password>x"),
    "echo-pipes": _repeat("echo a | "),
    "htpasswd-n": _repeat("htpasswd -nb a "),
    "as-the-password": _repeat("a as the password "),
    "changed-from": _repeat("changed it from a! to "),
    "access-codes": _repeat("access codes: 1a2-b3c "),
    "bracketed-unclosed": _repeat("token (abcd"),
    "user-then-p": _repeat("-u a -p "),
    "here-strings": _repeat("<<< a passwd "),
    "pgpass-lines": _repeat("a:1:b:c:d\n"),
    "authorization-params": _repeat("Authorization: x a="),
    "quoted-prompts": _repeat("Password for 'a:' "),
    "credential-tokens": _repeat("credentials a"),
    "put-values": _repeat("put a1 password "),
    "braced-at-dot": _repeat("a {at} b {dot} "),
    # Round six (dev2).
    "spaced-setting-lines": _repeat("a_pass b\n"),
    "pass-on-one-line": _repeat("pass "),
    "xml-key-attributes": _repeat('<e key="a.password">x'),
    "assigned-calls": _repeat('password = f("a", '),
    "setter-calls": _repeat('set_password("a", '),
    "sql-insert-columns": _repeat("(password) values ("),
    "printed-secrets": _repeat("base64 -d\n"),
    "foreign-copulas": _repeat("mot de passe de la base c'est "),
    "value-before-is-the-pw": _repeat(" is the a b c password"),
    "qualified-tokens": _repeat("auth token "),
    "spaced-slashes": _repeat("a / b / "),
    "changed-to-and-u-p": _repeat("changed it to u=a p="),
    "connect-and-named-literals": _repeat("connect(a, ('password', "),
    "userinfo-and-email-colon": _repeat("a:b@a@b.co:"),
    "echo-into-passwd": _repeat("echo a | passwd "),
    "cracked-hashes": _repeat("hashcat " + "0" * 32 + ":"),
    "snmp-rdp-winrs": _repeat("snmpwalk -c a xfreerdp /p: winrs -p: "),
    "foreign-at-dot": _repeat("a [arroba] b [punto] "),
    "sops-then-tokens": _random_text("abcDEF0123456789, ", 4, head="ENC[a,"),
    "mailchimp-suffixes": _repeat("0123456789abcdef0123456789abcdef-us1 "),
    # Round seven (dev3).
    "passcodes-and-seeds": _repeat("passcode is 1 seed is "),
    "stated-asides": _repeat("password (a b (c) is "),
    "stated-appositives": _repeat("password a b, c, "),
    "semicolon-values": lambda n: "password=a;" + "b;" * ((n - 11) // 2),
    "argv-password-lists": _repeat('"--requirepass", '),
    "door-codes": _repeat("code for the door code for "),
    "dashed-spelled-at-dot": _repeat("a-at-b-dot-"),
    "at-sign-spelled-dots": _repeat("a@b dot "),
    "put-on-and-key-as": _repeat("put the password on key as "),
    "user-pass-words": _repeat("user=a pass=b "),
    "password-commands": _repeat('--password-command "echo '),
    "lookup-fallbacks": _repeat("token = getenv('a') or "),
    # Round eight (dev4).
    "linked-later": _repeat("hasło a b c "),
    "wifi-without-key": _repeat("wifi a b c d "),
    "account-pairs": _repeat("root:a "),
    "near-password-word": _repeat("password Ab1!Ab1!x "),
    "passphrase-run-on": _repeat("passphrase is aaa bbb ccc ddd eee fff "),
    "shell-defaults": _repeat("${a_password:-"),
    "echoed-variables": _repeat("echo $A_PASSWORD\n"),
    "apostrophe-values": _repeat("password: 'it's"),
    "query-secrets": lambda n: "https://a/?" + "token=a1b2c3d4e5f6g7h8&" * ((n - 11) // 23),
    "underscored-and-foreign-at": _repeat("a_at_b_dot_a punt b arobase "),
    "sealed-secrets": _repeat("encryptedData:\n password: Ab1x9Zq2Lm8Rt4Wv7Yp3\n"),
    "nmcli-and-app-passwords": _repeat("nmcli password app password "),
    "cat-secret-files": _repeat("cat a/" * 30 + "b_password\n"),
}
