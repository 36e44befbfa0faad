"""The PII sanitizer measured: precision and recall per type on the labeled corpus, and throughput.

    .venv/bin/python bench/sanitizer.py [--errors] [--quick]

Scoring, on three corpora printed separately (format in ``tests/data/sanitizer/README.md``): ``corpus.jsonl``
(written with the rules: a regression check), and the credentials corpus in two splits, ``credentials-dev.jsonl``
(the rules were tuned on it) and ``credentials-heldout.jsonl`` (written with it, before the rules, never tuned
on: the fair number). Each label is a span of the
line (its value, found in order). A label is recalled when a finding of its type overlaps it; a finding is
precise when it overlaps a label of its type. "leaks" counts labels of which any character stays in the clear
(not covered by some finding, of whatever type). ``--errors`` prints every
missed label and every false finding with its line (the corpus is invented test data, so printing it is fine).

Throughput: the corpus lines one ``sanitize`` call each (the way samples are sanitized), and the corpus
joined into blocks of MAX_INPUT_CHARS. Then adversarial inputs, each at four sizes up to the cap: the time
must grow linearly (the ratio of the largest to the smallest time should be near the size ratio, 8); a
backtracking blow-up would show as a ratio of 64 or more. Times are the best of a few runs (the machine is
shared); the table says which inputs hit the phone library's look budget and were redacted unverified.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmojid.common.sanitizer import MAX_INPUT_CHARS, TYPES, find_pii, sanitize

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "sanitizer"
CORPUS = DATA / "corpus.jsonl"
SPLITS = {
    "regression corpus (written with the rules)": CORPUS,
    "credentials, dev split (tuned on)": DATA / "credentials-dev.jsonl",
    "credentials, held-out split (never tuned on)": DATA / "credentials-heldout.jsonl",
    "credentials, blind dev split (tuned on)": DATA / "credentials-dev2.jsonl",
    "credentials, third blind dev split (tuned on)": DATA / "credentials-dev3.jsonl",
    "credentials, fourth blind dev split (tuned on)": DATA / "credentials-dev4.jsonl",
    "credentials, blind held-out split (never tuned on)": DATA / "credentials-heldout2.jsonl",
}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def label_spans(entry: dict[str, Any]) -> list[tuple[str, int, int, str]]:
    """(type, start, end, value) per label, each value searched after the previous occurrence of the same."""
    spans = []
    after: Counter[str] = Counter()
    for kind, value in entry["pii"]:
        start = entry["text"].index(value, after[value])
        after[value] = start + 1
        spans.append((kind, start, start + len(value), value))
    return spans


def score(corpus: list[dict[str, Any]], errors: bool, title: str = "") -> tuple[float, float, float]:
    """Print the per-type table; return (precision, recall, share of look-alike lines left untouched)."""
    labels: Counter[str] = Counter()
    recalled: Counter[str] = Counter()
    found: Counter[str] = Counter()
    precise: Counter[str] = Counter()
    leaks: Counter[str] = Counter()
    false_by_tag: Counter[str] = Counter()
    for number, entry in enumerate(corpus, 1):
        text = entry["text"]
        gold = label_spans(entry)
        pred = find_pii(text)
        for kind, s, e, value in gold:
            labels[kind] += 1
            if any(f.type == kind and f.start < e and s < f.end for f in pred):
                recalled[kind] += 1
            elif errors:
                print(f"  missed {kind:6s} line {number}: {value!r} in {text!r}")
            covered = sum(max(0, min(e, f.end) - max(s, f.start)) for f in pred)
            if covered < e - s:
                leaks[kind] += 1
                if errors:
                    print(f"  leaked {kind:6s} line {number}: part of {value!r} stays in {text!r}")
        for f in pred:
            found[f.type] += 1
            if any(kind == f.type and f.start < e and s < f.end for kind, s, e, _ in gold):
                precise[f.type] += 1
            else:
                false_by_tag[entry.get("tag", "(positive line)")] += 1
                if errors:
                    print(f"  false  {f.type:6s} line {number}: {text[f.start : f.end]!r} in {text!r}")
    negatives = sum(1 for entry in corpus if not entry["pii"])
    kept = sum(1 for entry in corpus if not entry["pii"] and not find_pii(entry["text"]))
    heading = f"{title}: " if title else "Corpus: "
    print(f"\n{heading}{len(corpus)} lines, {sum(labels.values())} labels, {negatives} lines without PII\n")
    print(f"{'type':8s} {'labels':>6s} {'found':>6s} {'precision':>9s} {'recall':>7s} {'leaks':>5s}")
    for kind in TYPES:
        p = precise[kind] / found[kind] if found[kind] else 1.0
        r = recalled[kind] / labels[kind] if labels[kind] else 1.0
        print(f"{kind:8s} {labels[kind]:6d} {found[kind]:6d} {p:9.3f} {r:7.3f} {leaks[kind]:5d}")
    total_p = sum(precise.values()) / max(1, sum(found.values()))
    total_r = sum(recalled.values()) / max(1, sum(labels.values()))
    all_found, all_labels, all_leaks = sum(found.values()), sum(labels.values()), sum(leaks.values())
    print(f"{'all':8s} {all_labels:6d} {all_found:6d} {total_p:9.3f} {total_r:7.3f} {all_leaks:5d}")
    if false_by_tag:
        print("\nFalse findings by look-alike tag: " + ", ".join(f"{t} {n}" for t, n in false_by_tag.most_common()))
    return total_p, total_r, kept / negatives if negatives else 1.0


def best_time(fn: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def throughput(corpus: list[dict[str, Any]], runs: int) -> None:
    lines = [entry["text"] for entry in corpus]
    size = sum(len(line.encode()) for line in lines)
    per_line = best_time(lambda: [sanitize(line) for line in lines], runs)
    joined = "\n".join(lines)
    block = (joined * (MAX_INPUT_CHARS // len(joined) + 1))[: MAX_INPUT_CHARS - 1]
    bulk = best_time(lambda: sanitize(block), runs)
    print("\nThroughput (MB = 10^6 bytes of UTF-8 input)")
    print(f"  corpus, one call per line ({len(lines)} lines, {size / 1e3:.1f} kB): {size / per_line / 1e6:6.2f} MB/s")
    block_bytes = len(block.encode())
    print(f"  corpus joined, one {len(block):,}-character block:        {block_bytes / bulk / 1e6:6.2f} MB/s")


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


def _random_text(alphabet: str, seed: int) -> Callable[[int], str]:
    def make(n: int) -> str:
        rnd = random.Random(seed)
        return "".join(rnd.choice(alphabet) for _ in range(n))

    return make


def _phone_soup(n: int) -> str:
    rnd = random.Random(3)
    parts = [
        f"{rnd.randrange(200, 999)} {rnd.randrange(200, 999)} {rnd.randrange(10000):04d}" for _ in range(n // 13 + 1)
    ]
    return " ".join(parts)[:n]


ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "prose (version numbers, dates)": _repeat("The build 1.2.3 shipped on 2024-01-15; see section 4 for the notes. "),
    "one letter repeated": _repeat("a"),
    "digits": _repeat("1"),
    "digits and spaces": _repeat("2 "),
    "digits, dots": _repeat("1."),
    "random digits, spaces, dashes": _random_text("0123456789 -", 1),
    "phone-like numbers": _phone_soup,
    "card-like groups": _repeat("4111 "),
    "a.a.a... then @": lambda n: "a." * (n // 2 - 1) + "@x",
    "@a.@a.": _repeat("@a."),
    "url with closing parens": lambda n: "http://a/" + ")" * (n - 9),
    "'://' repeated": _repeat("x://"),
    "PEM BEGIN, no END": _repeat("-----BEGIN RSA PRIVATE KEY-----\n"),
    "password= repeated": _repeat("password="),
    "random base64": _random_text(string.ascii_letters + string.digits + "+/", 2),
    "hex:colons": _repeat("1:a:"),
    "IBAN starts": _repeat("DE89 "),
    "born / DOB keywords": _repeat("born DOB 1985-"),
    "~a~a (tilde)": _repeat("~a"),
    "spelled-out 'a dot b at c dot'": _repeat("a dot b at c dot "),
    "'a [at] ' repeated": _repeat("a [at] "),
    "'mysql -p' repeated": _repeat("mysql -p"),
    "'password is ' repeated": _repeat("password is "),
    "'--password ' repeated": _repeat("--password "),
    "'passphrase for a ' (no colon)": _repeat("passphrase for a "),
    "'creds: a ' repeated": _repeat("creds: a "),
    "'login a with ' repeated": _repeat("login a with "),
    "'typed a1b2c3 password '": _repeat("typed a1b2c3 password "),
    "'identified by ' repeated": _repeat("identified by "),
    "'Authorization: x ' repeated": _repeat("Authorization: x "),
    "'sqlplus a/' repeated": _repeat("sqlplus a/"),
    "'net user a ' repeated": _repeat("net user a "),
    "'hvs.' / 'SG.' repeated": _repeat("hvs.SG.a"),
    "'the token I a b is ' repeated": _repeat("the token I a b is "),
    "'password a, b, c, d ' (no link)": _repeat("password a, b, c, d "),
    "'passphrase: amber lantern '": _repeat("passphrase: amber lantern "),
    "'use a / ' repeated": _repeat("use a / "),
    "'_token is ' repeated": _repeat("_token is "),
    "login('a', repeated": _repeat("login('a', "),
    "'<a_password>x' (no close)": _repeat("<a_password>x"),
    "'echo a | ' (no --password-stdin)": _repeat("echo a | "),
    "'htpasswd -nb a ' repeated": _repeat("htpasswd -nb a "),
    "'a as the password ' repeated": _repeat("a as the password "),
    "'changed it from a to ' repeated": _repeat("changed it from a! to "),
    "'access codes: 1a-2b ' repeated": _repeat("access codes: 1a2-b3c "),
    "'token (a' (no close)": _repeat("token (abcd"),
    "'-u a -p ' repeated": _repeat("-u a -p "),
    "'<<< a passwd ' repeated": _repeat("<<< a passwd "),
    "'a:1:b:c:d' lines": _repeat("a:1:b:c:d\n"),
    "'Authorization: x a=' repeated": _repeat("Authorization: x a="),
    "'Password for 'a:' ' repeated": _repeat("Password for 'a:' "),
    "'credentials a' (no separator)": _repeat("credentials a"),
    "'put a1 password ' repeated": _repeat("put a1 password "),
    "'a {at} b {dot} ' repeated": _repeat("a {at} b {dot} "),
    # Round six (dev2): one input per new rule family.
    "'a_pass b' setting lines": _repeat("a_pass b\n"),
    "'pass ' on one line": _repeat("pass "),
    "'<e key=\"a.password\">x' (no close)": _repeat('<e key="a.password">x'),
    "'password = f(\"a\", ' repeated": _repeat('password = f("a", '),
    "'set_password(\"a\", ' repeated": _repeat('set_password("a", '),
    "'(password) values (' repeated": _repeat("(password) values ("),
    "'base64 -d\\n' lines": _repeat("base64 -d\n"),
    "'mot de passe de la base c'est '": _repeat("mot de passe de la base c'est "),
    "' is the a b c password' repeated": _repeat(" is the a b c password"),
    "'auth token ' repeated": _repeat("auth token "),
    "'a / b / ' repeated": _repeat("a / b / "),
    "'changed it to ' / 'u=a p=' repeated": _repeat("changed it to u=a p="),
    "'connect(a, ' / \"('password', \"": _repeat("connect(a, ('password', "),
    "'a:b@' / 'a@b.co:' repeated": _repeat("a:b@a@b.co:"),
    "'echo a | passwd ' repeated": _repeat("echo a | passwd "),
    "'hashcat 0*32:' repeated": _repeat("hashcat " + "0" * 32 + ":"),
    "'snmpwalk -c a /p: -p:' repeated": _repeat("snmpwalk -c a xfreerdp /p: winrs -p: "),
    "'a [arroba] b [punto] ' repeated": _repeat("a [arroba] b [punto] "),
    "'ENC[' then base64 tokens": lambda n: "ENC[a," + _random_text(string.ascii_letters + string.digits + ", ", 4)(n),
    "'<hex32>-us1 ' repeated": _repeat("0123456789abcdef0123456789abcdef-us1 "),
    # Round seven: one per new rule family.
    "'passcode is 1 seed is ' repeated": _repeat("passcode is 1 seed is "),
    "'password (a b (c) is ' repeated": _repeat("password (a b (c) is "),
    "'password a b, c, ' repeated": _repeat("password a b, c, "),
    "'password=a;' then 'b;' repeated": lambda n: "password=a;" + "b;" * (n // 2),
    "'\"--requirepass\", ' repeated": _repeat('"--requirepass", '),
    "'code for the door ' repeated": _repeat("code for the door code for "),
    "'a-at-b-dot-' repeated": _repeat("a-at-b-dot-"),
    "'a@b dot ' repeated": _repeat("a@b dot "),
    "'put the password on key as '": _repeat("put the password on key as "),
    "'user=a pass=b ' repeated": _repeat("user=a pass=b "),
    "'--password-command \"echo ' repeated": _repeat('--password-command "echo '),
    "\"token = getenv('a') or \" repeated": _repeat("token = getenv('a') or "),
    # Round eight (dev4): one per new rule family.
    "'hasło a b c ' (no link)": _repeat("hasło a b c "),
    "'wifi a b c d ' (no key word)": _repeat("wifi a b c d "),
    "'root:a ' repeated": _repeat("root:a "),
    "'password Ab1!Ab1!x ' on one line": _repeat("password Ab1!Ab1!x "),
    "'passphrase is aaa bbb ccc ' run on": _repeat("passphrase is aaa bbb ccc ddd eee fff "),
    "'${a_password:-' (no close)": _repeat("${a_password:-"),
    "'echo $A_PASSWORD\\n' lines": _repeat("echo $A_PASSWORD\n"),
    "\"password: 'it's\" repeated": _repeat("password: 'it's"),
    "'?token=a&token=' in one URL": lambda n: "https://a/?" + "token=a1b2c3d4e5f6g7h8&" * (n // 25),
    "'a_at_b_dot_' / 'a punt b arobase '": _repeat("a_at_b_dot_a punt b arobase "),
    "'encryptedData: password: x' lines": _repeat("encryptedData:\n password: Ab1x9Zq2Lm8Rt4Wv7Yp3\n"),
    "'nmcli password ' / 'app password '": _repeat("nmcli password app password "),
    "'cat a/' then 'b_password' lines": _repeat("cat a/" * 30 + "b_password\n"),
}


def adversarial(runs: int, quick: bool) -> None:
    sizes = [MAX_INPUT_CHARS // 8, MAX_INPUT_CHARS // 4, MAX_INPUT_CHARS // 2, MAX_INPUT_CHARS]
    if quick:
        sizes = [s // 4 for s in sizes]
    print(f"\nAdversarial inputs: seconds per call at {', '.join(f'{s:,}' for s in sizes)} characters")
    print(f"{'input':32s} " + " ".join(f"{s:>9,}" for s in sizes) + f" {'ratio':>6s} {'MB/s':>6s}")
    for name, make in ADVERSARIAL.items():
        times = []
        for n in sizes:
            text = make(n)
            times.append(best_time(partial(sanitize, text), runs))
        ratio = times[-1] / max(times[0], 1e-9)
        rate = sizes[-1] / times[-1] / 1e6
        print(f"{name:32s} " + " ".join(f"{t:9.3f}" for t in times) + f" {ratio:6.1f} {rate:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="print every missed label and false finding")
    parser.add_argument("--quick", action="store_true", help="smaller adversarial sizes, one run each")
    parser.add_argument("--corpus", type=Path, help="score this corpus only (default: the three below)")
    args = parser.parse_args()
    splits = {str(args.corpus): args.corpus} if args.corpus else SPLITS
    summary = {title: score(load(path), args.errors, title) for title, path in splits.items()}
    print(f"\n{'split':46s} {'precision':>9s} {'recall':>7s} {'look-alikes kept':>16s}")
    for title, (precision, recall, kept) in summary.items():
        print(f"{title:46s} {precision:9.3f} {recall:7.3f} {kept:16.3f}")
    corpus = load(args.corpus or CORPUS)
    runs = 1 if args.quick else 3
    throughput(corpus, runs)
    adversarial(runs, args.quick)


if __name__ == "__main__":
    main()
