"""The PII sanitizer (pure): every type on its own, look-alikes left alone, precedence, the cap, the labeled
corpus held to minimum precision and recall, and adversarial inputs that would make a backtracking pattern
blow up (they are sized so that a quadratic scan would take minutes; their speed is measured in
``bench/sanitizer.py``, not asserted here)."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmojid.common.sanitizer import MAX_INPUT_CHARS, TYPES, Finding, Sanitized, find_pii, sanitize
from tests.sanitizer_corpus import (
    ADVERSARIAL,
    CORPUS,
    CREDENTIALS_DEV,
    CREDENTIALS_DEV2,
    CREDENTIALS_DEV3,
    CREDENTIALS_DEV4,
    CREDENTIALS_HELDOUT,
    label_spans,
    load,
    score,
)

#: Minimum precision and recall per type on the corpus. The corpus was written together with the rules, so
#: these guard against regressions rather than estimate performance on unseen text.
MIN_PRECISION = 0.95
MIN_RECALL = 0.95


def spans(text: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start : f.end]) for f in find_pii(text)]


# ------------------------------------------------------------------------------------------------------------
# Each type, positive.

POSITIVES = [
    ("EMAIL", "write to alice.martin@example.com today", "alice.martin@example.com"),
    ("EMAIL", "Author: Bob <bob+ci@mail.example.org>", "bob+ci@mail.example.org"),
    ("PHONE", "Call me at (415) 555-2671 after lunch.", "(415) 555-2671"),
    ("PHONE", "office +44 20 7946 0958, ask for reception", "+44 20 7946 0958"),
    ("PHONE", "Ruf mich an: 030 12345678", "030 12345678"),
    ("PHONE", "call 415 555 2671 2 times", "415 555 2671"),
    ("CARD", "Pay with 4111 1111 1111 1111, exp 12/27", "4111 1111 1111 1111"),
    ("CARD", "amex 3782 822463 10005 declined", "3782 822463 10005"),
    ("CARD", "pan=5555555555554444", "5555555555554444"),
    ("IBAN", "to DE89 3704 0044 0532 0130 00 please", "DE89 3704 0044 0532 0130 00"),
    ("IBAN", "IBAN: GB29NWBK60161331926819", "GB29NWBK60161331926819"),
    ("SSN", "SSN: 123-45-6789", "123-45-6789"),
    ("SSN", "ssn=078051120", "078051120"),
    ("IP", "connect to 192.168.1.42 on 5432", "192.168.1.42"),
    ("IP", "inet6 fe80::1ff:fe23:4567:890a/64", "fe80::1ff:fe23:4567:890a"),
    ("IP", "listen [2001:db8::8a2e:370:7334]:443", "2001:db8::8a2e:370:7334"),
    ("URL", "DB=postgres://app:s3cret@db.example.com/app", "postgres://app:s3cret@db.example.com/app"),
    ("URL", "see https://example.com/reset?token=abc123.", "https://example.com/reset?token=abc123"),
    ("URL", "[x](https://example.com/cb#access_token=abc)", "https://example.com/cb#access_token=abc"),
    ("SECRET", "export KEY=sk-proj-4fGh7JkL9mNpQ2rStUvWxYz0123456789", "sk-proj-4fGh7JkL9mNpQ2rStUvWxYz0123456789"),
    ("SECRET", "token ghp_16C7e42F292c6912E7710c838347Ae178B4a here", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    (
        "SECRET",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv",
    ),
    ("SECRET", "bot xoxb-2048123456-4096123456789-AbCdEfGhIjKl", "xoxb-2048123456-4096123456789-AbCdEfGhIjKl"),
    ("SECRET", "id AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A", "AKIAIOSFODNN7EXAMPLE"),
    (
        "SECRET",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.dozjgNryP4J3jVmNHl0w5N",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.dozjgNryP4J3jVmNHl0w5N",
    ),
    ("SECRET", "webhook secret 7Hq2Lx9Vb4Nz1Kc8Wd3Rf6Tm0Yp5Gs ok", "7Hq2Lx9Vb4Nz1Kc8Wd3Rf6Tm0Yp5Gs"),
    ("SECRET", "DB_PASSWORD=Tr0ub4dor&3", "Tr0ub4dor&3"),
    ("SECRET", '"password": "correct horse battery staple"', "correct horse battery staple"),
    ("PATH", "cd /home/alice/projects", "/home/alice"),
    ("PATH", "File /Users/bob.smith/app.py", "/Users/bob.smith"),
    ("PATH", r"C:\Users\CarolJ\AppData", r"C:\Users\CarolJ"),
    ("PATH", "cp ~erin/.bashrc .", "~erin"),
    ("DOB", "Patient born 14 March 1985 in Leeds", "14 March 1985"),
    ("DOB", "DOB: 03/14/1985", "03/14/1985"),
    ("DOB", "birth_date = '1965-02-28'", "1965-02-28"),
]


@pytest.mark.parametrize(
    ("kind", "text", "value"), POSITIVES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(POSITIVES)]
)
def test_each_type_is_found_and_replaced(kind: str, text: str, value: str) -> None:
    assert (kind, value) in spans(text)
    result = sanitize(text)
    assert value not in result.text
    assert f"[{kind}]" in result.text
    assert kind in result.found


def test_pem_private_key_block_is_one_secret() -> None:
    key = (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi7\nq1lbo4rrkF+wIDAQAB\n"
        "-----END RSA PRIVATE KEY-----"
    )
    assert sanitize(f"key:\n{key}\nafter").text == "key:\n[SECRET]\nafter"


def test_pem_block_without_end_runs_over_its_base64_and_stops_at_prose() -> None:
    text = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAABG5vbmU\nthe rest is prose"
    assert sanitize(text).text == "[SECRET]\nthe rest is prose"


def test_pem_block_with_json_escaped_newlines() -> None:
    text = r'{"key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"}'
    assert sanitize(text).text == r'{"key": "[SECRET]\n"}'


# ------------------------------------------------------------------------------------------------------------
# Look-alikes that must stay.

NEGATIVES = [
    "git clone git@github.com:octo-org/octo-repo.git",
    "ssh://git@github.com/octo-org/octo-repo.git",
    "npm install lodash@4.17.21",
    "bumped to version 1.2.3.4; requests==2.31.0.1; v10.0.0.1",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b",
    "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    "request 550e8400-e29b-41d4-a716-446655440000 failed",
    "ISBN 978-3-16-148410-0 and 0-306-40615-2",
    "2024-01-15 10:30:00.123 INFO worker started pid=48213",
    "epoch 1700000000, in ms 1700000000000",
    "Order #2125551234 shipped; ticket #6502530000 closed",
    "card 4111 1111 1111 1112 fails the checksum",
    "DE00 3704 0044 0532 0130 00 has a bad check digit",
    "ITIN 912-70-1234; 000-12-3456",
    "std::vector<int> and Foo::Bar::baz(); MAC 00:1a:2b:3c:4d:5e; at 12:30:45",
    "Docs: https://docs.python.org/3/library/re.html#regular-expression-syntax",
    "password = get_password_from_keyring(service)",
    "api_key: ${API_KEY}",
    "max_tokens=4096, temperature=0.7",
    "tokenizer = AutoTokenizer.from_pretrained('bert-base-uncased')",
    "integrity sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
    "src/components/UserProfileSettingsPanel/index.tsx",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEexampleKey0123456789\n-----END PUBLIC KEY-----",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host",
    "cd ~/projects; /home/user/.config; /Users/Shared; roughly ~5 minutes",
    "The release date was 2024-01-15; born in 1985; Stubborn bug from 12/01/2023",
    "2^31 - 1 = 2147483647",
    "kaomoji (╯°□°)╯︵ ┻━┻ and ¯\\_(ツ)_/¯",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_look_alikes_are_left_alone(text: str) -> None:
    result = sanitize(text)
    assert result.found == (), spans(text)
    assert result.text == text


# ------------------------------------------------------------------------------------------------------------
# Precedence and API.


def test_url_with_credentials_wins_over_the_email_inside_it() -> None:
    result = sanitize("clone https://bob:pw123@git.example.com/repo.git now")
    assert result.text == "clone [URL] now"
    assert result.found == ("URL",)


def test_address_inside_a_plain_url_is_still_redacted() -> None:
    assert sanitize("http://10.0.0.7/admin").text == "http://[IP]/admin"


def test_found_is_sorted_and_distinct_and_findings_are_ordered_spans() -> None:
    text = "mail z@example.com, then a@example.com, phone +1 415-555-2671, ip 10.1.2.3"
    result = sanitize(text)
    assert isinstance(result, Sanitized)
    assert result.found == ("EMAIL", "IP", "PHONE")
    assert result.truncated is False
    findings = find_pii(text)
    assert all(isinstance(f, Finding) for f in findings)
    assert [f.start for f in findings] == sorted(f.start for f in findings)
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))
    assert [text[f.start : f.end] for f in findings] == [
        "z@example.com",
        "a@example.com",
        "+1 415-555-2671",
        "10.1.2.3",
    ]
    assert set(TYPES) >= set(result.found)


def test_sanitized_text_is_stable_under_a_second_pass() -> None:
    for entry in load(CORPUS):
        once = sanitize(entry["text"]).text
        assert sanitize(once).text == once, entry["text"]


def test_wrong_type_is_refused_without_echoing_the_value() -> None:
    not_text: Any = b"alice@example.com"
    with pytest.raises(TypeError) as info:
        sanitize(not_text)
    assert "alice" not in str(info.value)
    with pytest.raises(TypeError):
        find_pii(not_text)


def test_input_over_the_cap_is_truncated_at_whitespace_and_says_so() -> None:
    filler = "word " * (MAX_INPUT_CHARS // 5)
    text = filler[: MAX_INPUT_CHARS - 10] + "alice.longname@example.com and more"
    assert len(text) > MAX_INPUT_CHARS
    result = sanitize(text)
    assert result.truncated is True
    assert len(result.text) <= MAX_INPUT_CHARS
    assert "alice" not in result.text  # the half address at the cut is dropped, not left unrecognised
    assert sanitize(text[:MAX_INPUT_CHARS]).truncated is False


def test_phone_look_budget_fails_closed() -> None:
    """Digit soup past the phone library's look budget is redacted unverified rather than passed through."""
    rnd = random.Random(5)
    soup = " ".join(
        f"{rnd.randrange(200, 999)} {rnd.randrange(200, 999)} {rnd.randrange(10000):04d}" for _ in range(6000)
    )
    result = sanitize(soup)
    assert "PHONE" in result.found
    assert sum(c.isdigit() for c in result.text) < sum(c.isdigit() for c in soup) // 10


# ------------------------------------------------------------------------------------------------------------
# The labeled corpus.


def test_corpus_is_large_and_covers_every_type() -> None:
    corpus = load(CORPUS)
    assert len(corpus) >= 300
    per_type = Counter(kind for entry in corpus for kind, _ in entry["pii"])
    assert all(per_type[kind] >= 15 for kind in TYPES), per_type
    assert sum(1 for entry in corpus if not entry["pii"]) >= 100
    for entry in corpus:
        for _, value in entry["pii"]:
            assert value in entry["text"]


def test_corpus_precision_recall_and_nothing_labeled_left_in_the_clear() -> None:
    result = score(load(CORPUS))
    assert sum(result.leaks.values()) == 0, [e for e in result.errors if e.startswith("leaked")]
    for kind in TYPES:
        assert result.recalled[kind] / result.labels[kind] >= MIN_RECALL, (kind, result.recalled, result.labels)
        assert result.precise[kind] / max(1, result.found[kind]) >= MIN_PRECISION, (kind, result.precise, result.found)


# ------------------------------------------------------------------------------------------------------------
# Credentials in prose, on command lines, after any key name; spelled-out addresses (issue 15, item 12).

CREDENTIALS = [
    ("SECRET", "my password is hunter2", "hunter2"),
    ("SECRET", "mysql -u root -phunter2 shop", "hunter2"),
    ("SECRET", "curl -u admin:pass https://api.example.com/v1", "pass"),
    ("SECRET", "AccountName=x;AccountKey=Eby8vdM02xNOcqFlqUwJPL+mEtlCDXJ1==;", "Eby8vdM02xNOcqFlqUwJPL+mEtlCDXJ1=="),
    ("SECRET", "Authorization: Bearer 4f9c2a7e1b6d8f3a0c5e9b2d7a4f1c8e", "4f9c2a7e1b6d8f3a0c5e9b2d7a4f1c8e"),
    ("SECRET", "mongosh --username admin --password M0ngoAdm! --quiet", "M0ngoAdm!"),
    ("SECRET", "openssl pkcs12 -export -out b.p12 -passout pass:p12export!", "p12export!"),
    ("SECRET", "sshpass -p 'raspberry' ssh pi@host", "raspberry"),
    ("EMAIL", "reach me at name dot surname at example dot org", "name dot surname at example dot org"),
    ("EMAIL", "contact: bob [at] example [dot] net", "bob [at] example [dot] net"),
    # Round two (each missed before it): prose links and pairs, prompts and what was typed at them, SQL,
    # more programs' password flags, any Authorization scheme, Terraform defaults, token prefixes, "[.]".
    ("SECRET", "My bank password's Tulip2019 lol", "Tulip2019"),
    ("SECRET", "the secret for the staging hook is q7Lm2Kx9", "q7Lm2Kx9"),
    ("SECRET", "The token our CI uses is 0e4c1d7a9b2f4e6c8a1d3b5f7e9c2a4b", "0e4c1d7a9b2f4e6c8a1d3b5f7e9c2a4b"),
    ("SECRET", "my app password is abcd efgh ijkl mnop", "abcd efgh ijkl mnop"),
    ("SECRET", "Enter passphrase for key '/root/.ssh/id_ed25519': s0ftK3y", "s0ftK3y"),
    ("SECRET", "Enter PEM pass phrase: p3mPh!", "p3mPh!"),
    ("SECRET", "creds: deploy / D3ploy!x", "D3ploy!x"),
    ("SECRET", "default credentials are root/calvin42", "calvin42"),
    ("SECRET", "log in as admin with adm1n2024 and look at the logs", "adm1n2024"),
    ("SECRET", "machine ftp.example.org login anon password ftp2go", "ftp2go"),
    ("SECRET", "CREATE USER app IDENTIFIED BY 'appPw1';", "appPw1"),
    ("SECRET", "when redis asked for a password I typed r3dis-pw and it said WRONGPASS", "r3dis-pw"),
    ("SECRET", "I typed Sn0wfall at the prompt and it hung", "Sn0wfall"),
    ("SECRET", "gpg --passphrase s3cretGpg -c notes.txt", "s3cretGpg"),
    ("SECRET", "openssl enc -aes-256-cbc -k EncKey99 -in a -out a.enc", "EncKey99"),
    ("SECRET", "az login -u me@example.com -p Azur3Pw", "Azur3Pw"),
    ("SECRET", "sshpass -pRasp1 ssh pi@host", "Rasp1"),
    ("SECRET", "sqlplus scott/tiger42@orcl", "tiger42"),
    ("SECRET", "net user bob B0bPass! /add", "B0bPass!"),
    ("SECRET", "ssh-keygen -t ed25519 -N n3wPhrase -f key", "n3wPhrase"),
    ("SECRET", "plink -ssh admin@host -pw Pl1nkPw", "Pl1nkPw"),
    ("SECRET", "http -a admin:Http1e https://api.example.com", "Http1e"),
    ("SECRET", '{"Authorization": "Token 5f2b8c1e9d4a7f3b6c0e2d8a1f5b9c3e"}', "5f2b8c1e9d4a7f3b6c0e2d8a1f5b9c3e"),
    ("SECRET", 'variable "api_token" { default = "tf-T0ken-99" }', "tf-T0ken-99"),
    ("SECRET", "  smtp_password: Sm7p_Relay9", "Sm7p_Relay9"),
    ("URL", "git clone https://oauth2:glpat-Ab3De5Gh7Jk9Mn2Pq4St@gitlab.example.com/a/b.git",
     "https://oauth2:glpat-Ab3De5Gh7Jk9Mn2Pq4St@gitlab.example.com/a/b.git"),
    ("EMAIL", "mail hello [at] example [.] io", "hello [at] example [.] io"),
    # Round three (each missed by both earlier rounds): PINs, "it's now", a quoted value after the word, PW =,
    # "use u / p", word passphrases, X_PASSWORD told in prose, typing, --password-stdin, htpasswd -n, XML, code
    # logins, session cookies, "(punkt)".
    ("SECRET", "the alarm PIN is 482913", "482913"),
    ("SECRET", "The VPN password got reset, it's now Hx7!pQ2w", "Hx7!pQ2w"),
    ("SECRET", "the password 'mint-Leaf-31' works for staging", "mint-Leaf-31"),
    ("SECRET", "PW = s0mething!", "s0mething!"),
    ("SECRET", "Use carol / C4rol!pw to log in", "C4rol!pw"),
    ("SECRET", "the passphrase: silver kettle dances slowly", "silver kettle dances slowly"),
    ("SECRET", "I've set REDIS_PASSWORD to R3d!sPw", "R3d!sPw"),
    ("SECRET", "the router key is Netgear!2024", "Netgear!2024"),
    ("SECRET", "I keep typing Pa55word! but ssh says Permission denied", "Pa55word!"),
    ("SECRET", "echo 'Ghcr!Pw1' | docker login ghcr.io -u me --password-stdin", "Ghcr!Pw1"),
    ("SECRET", "htpasswd -nbB admin Adm!n99", "Adm!n99"),
    ("SECRET", "<password>M4ven!Repo</password>", "M4ven!Repo"),
    ("SECRET", "session.login('ops', 'Op5!Login')", "Op5!Login"),
    ("SECRET", "requests.post(url, auth=('api', 'Api!Auth7'))", "Api!Auth7"),
    ("SECRET", "Cookie: PHPSESSID=9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c", "9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c"),
    ("EMAIL", "kontakt: eva(at)firma(punkt)de", "eva(at)firma(punkt)de"),
    # Round four (each missed by all earlier rounds): "X as its password", "password??", changed from/to,
    # login details, other languages' prompts, access codes, a secret in brackets, SET PASSWORD, prompts quoting
    # a URL, here-strings, -u U -p X, ConvertTo-SecureString, net use's password, .pgpass, Digest, "->", punkt.
    ("SECRET", "the kiosk uses 'K10sk!Pw' as its password", "K10sk!Pw"),
    ("SECRET", "password?? it's Falcon9Heavy", "Falcon9Heavy"),
    ("SECRET", "we changed the wifi password from Old!Net1 to New!Net2", "New!Net2"),
    ("SECRET", "login details: ops / 0ps!Login", "0ps!Login"),
    ("SECRET", "Passwort: Sonne!2024", "Sonne!2024"),
    ("SECRET", "mot de passe : Lune2024!", "Lune2024!"),
    ("SECRET", "the door code is 4417-ab-9c", "4417-ab-9c"),
    ("SECRET", "backup codes: 7h2k-9m4x 3q8w-1e6r", "3q8w-1e6r"),
    ("SECRET", "the token you sent (Zx81Qw27Er93Ty45) fails", "Zx81Qw27Er93Ty45"),
    ("SECRET", "SET PASSWORD FOR 'bob'@'%' = 'B0b!Sql';", "B0b!Sql"),
    ("SECRET", "Password for 'https://bob@git.example.com': G1t!Https", "G1t!Https"),
    ("SECRET", "gpg --passphrase-fd 0 -d f.gpg <<< 'Here!Str1'", "Here!Str1"),
    ("SECRET", "az vm create -n vm1 -g rg --admin-username azure -u azure -p 'Vm!Admin42'", "Vm!Admin42"),
    ("SECRET", "$p = ConvertTo-SecureString 'Ps!Plain9' -AsPlainText -Force", "Ps!Plain9"),
    ("SECRET", "net use Z: \\\\srv\\data D4ta!Share /user:corp\\bob", "D4ta!Share"),
    ("SECRET", "db.example.com:5432:app:app:Pg!Pass55", "Pg!Pass55"),
    ("SECRET", "smtp.login(sender, 'Mail!Sender7')", "Mail!Sender7"),
    ("SECRET", 'Authorization: Digest username="bob", response="6629fae49393a05397450978507c4ef1"',
     "6629fae49393a05397450978507c4ef1"),
    ("SECRET", "heroku auth:token -> 0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d", "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"),
    ("EMAIL", "schreib an lukas punkt meier at example punkt de", "lukas punkt meier at example punkt de"),
    # Round five (each missed by all earlier rounds): adverbs after the link, a pair right after "credentials",
    # account and auth pairs, "I put X" at a password prompt, any top-level domain between braces.
    ("SECRET", "honestly the pw is literally qwerty2024", "qwerty2024"),
    ("SECRET", "use the credentials ops:0ps!Cred for staging", "0ps!Cred"),
    ("SECRET", "service account: svc-ci / Svc!Ci2025", "Svc!Ci2025"),
    ("SECRET", "the basic auth is guest/Gu3st2024", "Gu3st2024"),
    ("SECRET", "when it asked for the root password I put R00t!Setup", "R00t!Setup"),
    ("EMAIL", "nina {at} studio {dot} design", "nina {at} studio {dot} design"),
    # Round six (tuned on the blind dev2 split; each missed by all earlier rounds, none copied from a corpus):
    # the syntax makes a bare value a literal, random letters and passphrases, "name value" setting lines, XML
    # key/name attributes, other languages, the value before "is the ... pw", bare qualified tokens, spaced
    # pairs, "rotated it to X", more command lines, literals handed to calls, SQL inserts, a command's output,
    # echo into a password reader, user:password@ without a scheme, foreign at/dot words, mail-verb context.
    ("SECRET", "POSTGRES_PASSWORD: web_pg_42", "web_pg_42"),
    ("SECRET", "RABBITMQ_PASS=granite.willow.ember.fox", "granite.willow.ember.fox"),
    ("SECRET", "cache_password = kqzvwxtrplm", "kqzvwxtrplm"),
    ("SECRET", "requirepass Tangerine55&", "Tangerine55&"),
    ("SECRET", "    auth_pass 9c1e44a07bd3f2e6", "9c1e44a07bd3f2e6"),
    ("SECRET", '<add key="SmtpPassword" value="Ma1l-Relay!9"/>', "Ma1l-Relay!9"),
    ("SECRET", '<entry key="jdbc.password">Orch1d$Lake</entry>', "Orch1d$Lake"),
    ("SECRET", "_auth=dXNlcjpQYXNzd29yZDEyMzQ1Njc4", "dXNlcjpQYXNzd29yZDEyMzQ1Njc4"),
    ("SECRET", "Das Kennwort ist Hafen!Kran22", "Hafen!Kran22"),
    ("SECRET", "la contraseña es Lluvia$Roja7", "Lluvia$Roja7"),
    ("SECRET", "The VPN password? Birch-Canoe-88", "Birch-Canoe-88"),
    ("SECRET", "Tr0ut#Stream is the admin pw for the NAS", "Tr0ut#Stream"),
    ("SECRET", "please rotate the API token 5b0c9e2f7a1d4386be02c4d9f1a7e3b5", "5b0c9e2f7a1d4386be02c4d9f1a7e3b5"),
    ("SECRET", "ops: admin / Qu4rtz-Hill-7", "Qu4rtz-Hill-7"),
    ("SECRET", "they rotated it to Marlin_Bay_58 this morning", "Marlin_Bay_58"),
    ("SECRET", "sqlcmd -S db -U sa -P'Rook!e2024'", "Rook!e2024"),
    ("SECRET", "ipmitool -H bmc2 -U root -P copper_lantern_maple_owl power on", "copper_lantern_maple_owl"),
    ("SECRET", "snmpget -v2c -c N0tPublic5 sw01 sysName.0", "N0tPublic5"),
    ("SECRET", "xfreerdp /u:ops /p:Jump-H0st! /v:bastion", "Jump-H0st!"),
    ("SECRET", 'cfg = Settings(token=SecretStr("q8Zt2LmW4xRv"))', "q8Zt2LmW4xRv"),
    ("SECRET", 'db_password = os.environ.get("DB_PASSWORD", "Fallback!77")', "Fallback!77"),
    ("SECRET", 'keyring.set_password("mail", "ann", "Pl0ver!Nest")', "Pl0ver!Nest"),
    ("SECRET", "INSERT INTO accounts (login, passwd) VALUES ('ann', 'Heron#Pond3');", "Heron#Pond3"),
    ("SECRET", "define('AUTH_SECRET', 'Xy7#kLm2Qp9');", "Xy7#kLm2Qp9"),
    ("SECRET", '$db = new PDO($dsn, "shop", "Cobalt!Fern4");', "Cobalt!Fern4"),
    ("SECRET", "$ vault kv get -field=password secret/db\nW4lrus-Tusk", "W4lrus-Tusk"),
    ("SECRET", "echo 'Vnc!Pass9' | vncpasswd -f > ~/.vnc/passwd", "Vnc!Pass9"),
    ("SECRET", "poetry config http-basic.corp deploy Ju5t!Ship", "Ju5t!Ship"),
    ("SECRET", 'DSN="svc:Quill!Ink42@tcp(db:3306)/app"', "Quill!Ink42"),
    ("SECRET", "mailgun api key key-0f1e2d3c4b5a69788796a5b4c3d2e1f0", "key-0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
    ("EMAIL", "scrivimi: giulia [chiocciola] esempio [punto] it", "giulia [chiocciola] esempio [punto] it"),
    ("EMAIL", "please email it to priya at example.org today", "priya at example.org"),
    # Round seven (tuned on the blind dev3 split; each missed by round six, none copied from a corpus): passcodes
    # of digits, seeds, an aside before the link, a value set off by commas, semicolons inside a value, pairs
    # with a comma, programs run by path, argv lists, more key names and padded base64, a *_KEY literal, codes
    # for a door, "reset to", "the word X", "put ... on", "the key as X", user/pass word pairs, dashed and
    # "@"-written spelled addresses.
    ("SECRET", "the one-time passcode was 40719, valid for five minutes", "40719"),
    ("SECRET", "the recovery seed for the HSM is NB2HI4DTHIXS6ZLYMFWXA3DF", "NB2HI4DTHIXS6ZLYMFWXA3DF"),
    ("SECRET", "the wifi password (the guest one) is Harbor7Lights", "Harbor7Lights"),
    ("SECRET", "the password Sam sent over, lantern42, no longer works", "lantern42"),
    ("SECRET", "the db password has semicolons: tr;ee;42", "tr;ee;42"),
    ("SECRET", "psql 'host=db user=app password=oak;elm;7 sslmode=require'", "oak;elm;7"),
    ("SECRET", "Login details: deploy, Br1dge.Keeper-9", "Br1dge.Keeper-9"),
    ("SECRET", "/usr/local/bin/mysql -u root -pCed4r_Root shop", "Ced4r_Root"),
    ("SECRET", 'args: ["valkey-server", "--requirepass", "Fig7!Orchard"]', "Fig7!Orchard"),
    ("SECRET", "sas=ZmQ4Yj3kLp9Qw2Xr7Tn5Vb1Mc6Hs0Jd", "ZmQ4Yj3kLp9Qw2Xr7Tn5Vb1Mc6Hs0Jd"),
    ("SECRET", "//npm.corp.example/:_auth=YWxpY2U6c2VjcmV0UGFzcw==", "YWxpY2U6c2VjcmV0UGFzcw=="),
    ("SECRET", 'static final String SIGNING_KEY = "Wq3#Harbor!77";', "Wq3#Harbor!77"),
    ("SECRET", "the code for the loading dock gate is 7305", "7305"),
    ("SECRET", "my backup codes, 8XKP-3MWT-6QRD, 2LNF-9VBH-4ZJC", "8XKP-3MWT-6QRD"),
    ("SECRET", "Password was updated to Gr0ve*Path yesterday", "Gr0ve*Path"),
    ("SECRET", "the vault password, which is Mo0n-Sh4dow, expired", "Mo0n-Sh4dow"),
    ("SECRET", "why is my pass lime!tree88 rejected", "lime!tree88"),
    ("SECRET", "the password `x$y;z` breaks the shell", "x$y;z"),
    ("SECRET", "I put my password on Tannenbaum77 and it works", "Tannenbaum77"),
    ("SECRET", "the alarm password is the word marigold, all lowercase", "marigold"),
    ("SECRET", "login=printer pass=snowdrop mode=scan", "snowdrop"),
    ("SECRET", "I pasted the token as 5e1d9a7c3b2f4e6d8a0c1b3d5f7e9a2c for now", "5e1d9a7c3b2f4e6d8a0c1b3d5f7e9a2c"),
    ("SECRET", 'export BORG_PASSCOMMAND="echo Lime-Sparrow"', "Lime-Sparrow"),
    ("SECRET", "unzip -P 7007 archive.zip", "7007"),
    ("SECRET", "the password for the pdf is 90210", "90210"),
    ("SECRET", 'let api_token = env::var("API_TOKEN").unwrap_or("Dflt#Tok3n-44".to_string());', "Dflt#Tok3n-44"),
    ("EMAIL", "write to j.okafor -at- example -dot- ng", "j.okafor -at- example -dot- ng"),
    ("EMAIL", "reach me: lena-at-example-dot-de", "lena-at-example-dot-de"),
    ("EMAIL", "cc ines.ferreira@example dot pt please", "ines.ferreira@example dot pt"),
    # Round eight (tuned on the blind dev4 split; each missed by round seven, none copied from a corpus): more
    # languages' words and links, "got reset to", "set ... to <word>", "is just <word>", passphrase words in
    # prose, pairs and default accounts, constructors, expect/nmcli, an echoed variable's output, Make and
    # shell defaults, apostrophes, punctuation-led values, URL parameters, wireless keys, recovery and app
    # passwords, underscored and foreign spelled addresses.
    ("SECRET", "kata sandi server: rambutan77", "rambutan77"),
    ("SECRET", "uygulama şifresi Kartal2023, değiştirmeyin", "Kartal2023"),
    ("SECRET", "heslo je Brno!4455 pro testy", "Brno!4455"),
    ("SECRET", "hasło do serwera to Wisla2020, login root", "Wisla2020"),
    ("SECRET", "mật khẩu là Saigon99 nha", "Saigon99"),
    ("SECRET", "パスワードは fuji3776 です", "fuji3776"),
    ("SECRET", "lösenordet är Midsommar7 för labbet", "Midsommar7"),
    ("SECRET", "ww: tulpen2021 voor de demo", "tulpen2021"),
    ("SECRET", "Der API-Schlüssel für Prod: 5c0e9a7b3d1f4e2a8c6b0d9e", "5c0e9a7b3d1f4e2a8c6b0d9e"),
    ("SECRET", "de sleutel van de webhook is 7f3e9a1c5b2d8e4f6a0c3b9d1e7f5a2c", "7f3e9a1c5b2d8e4f6a0c3b9d1e7f5a2c"),
    ("SECRET", "the jenkins password got reset to Qv7~hLm2Xp after the upgrade", "Qv7~hLm2Xp"),
    ("SECRET", "ich hab das passwort auf Kaiser2021 gesetzt", "Kaiser2021"),
    ("SECRET", "we set the admin password to marmalade until the audit", "marmalade"),
    ("SECRET", "the kiosk password is literally pineapple lol", "pineapple"),
    ("SECRET", "the store pass and alias pass are both sparrow88", "sparrow88"),
    ("SECRET", "the memcached auth on staging is memc4ched2", "memc4ched2"),
    ("SECRET", "my passphrase is velvet otter quietly sings but ssh-add asks", "velvet otter quietly sings"),
    ("SECRET", "the preview basic auth is demo:lollipop for the client", "lollipop"),
    ("SECRET", "pi:raspberry still works on the lab board", "raspberry"),
    ("SECRET", 'var c = new NetworkCredential("svc_scan", "Wq4.tR7!pZ");', "Wq4.tR7!pZ"),
    ("SECRET", 'expect "assword:" { send "Rout3r#9\\r" }', "Rout3r#9"),
    ("SECRET", "nmcli device wifi connect Lab-5G password orchard2019", "orchard2019"),
    ("SECRET", "$ echo $REDIS_PASSWORD\nplum!tree42\n$ exit", "plum!tree42"),
    ("SECRET", "SMTP_PASSWORD ?= mailpass77\nall:\n\tsend", "mailpass77"),
    ("SECRET", "    MYSQL_ROOT_PASSWORD: ${MYSQL_ROOT_PASSWORD:-devroot42}", "devroot42"),
    ("SECRET", "db:\n  password: 'don't-panic-42'  # quoted", "don't-panic-42"),
    ("SECRET", "app.mail.password=!Qe7.rT9z", "!Qe7.rT9z"),
    ("SECRET", "SMTP_PASS=$ecret2024!", "$ecret2024!"),
    ("SECRET", 'vault_pass: "*Kq7!pz9"', "*Kq7!pz9"),
    ("SECRET", "GET https://api.example.com/v2/feed?api_key=9fQ2xL7mR4tW8vB1nK3p&limit=5", "9fQ2xL7mR4tW8vB1nK3p"),
    ("SECRET", "https://hooks.example.net/in?token=Zr8Kq2Lw9Xv4Ty7Nm1Pb3&src=ci", "Zr8Kq2Lw9Xv4Ty7Nm1Pb3"),
    ("SECRET", 'guest network: SSID "Bakery", key croissant2022', "croissant2022"),
    ("SECRET", "the wifi password is amber-kettle-north-river, name is Lab", "amber-kettle-north-river"),
    ("SECRET", "backup recovery code in case you lose the phone: 7KQ2-MX9P-4TZL", "7KQ2-MX9P-4TZL"),
    ("SECRET", "gmail app password qwer asdf zxcv tyui for the alerts", "qwer asdf zxcv tyui"),
    ("SECRET", "the staging password in the doc is outdated, use Harb0r!Lights now", "Harb0r!Lights"),
    ("SECRET", "passordet er Fjellet2019 på testserveren", "Fjellet2019"),
    ("SECRET", "salasana: Revontuli88", "Revontuli88"),
    ("SECRET", "测试库密码是qwe12345，别外传", "qwe12345"),
    ("SECRET", "비밀번호는 Hangang77 입니다", "Hangang77"),
    ("SECRET", "default creds root:calvin on the idrac", "calvin"),
    ("SECRET", 'expect "Password:"\nsend -- "Sw1tch!pw\\r"', "Sw1tch!pw"),
    ("SECRET", "$ cat /run/secrets/db_password\nfjord-Bay-7\n$ ls", "fjord-Bay-7"),
    ("SECRET", 'auth = HTTPDigestAuth("ops", "D1gest!pw")', "D1gest!pw"),
    ("SECRET", "the hotspot password is Mango!2024", "Mango!2024"),
    ("EMAIL", "e-post: erik punkt berg snabel-a exempel punkt se", "erik punkt berg snabel-a exempel punkt se"),
    ("EMAIL", "mail me: anna_at_example_dot_org", "anna_at_example_dot_org"),
    ("EMAIL", "adres: jan punt devries apenstaartje test punt nl", "jan punt devries apenstaartje test punt nl"),
    ("EMAIL", "e-mail: ola kropka kowal małpa firma kropka pl", "ola kropka kowal małpa firma kropka pl"),
    ("EMAIL", "écrivez à marc point roy arobase societe point fr", "marc point roy arobase societe point fr"),
    ("EMAIL", "ops account: build-bot at ci dot example, rotate monthly", "build-bot at ci dot example"),
]  # fmt: skip

CREDENTIAL_LOOK_ALIKES = [
    "docker run -p 3000:3000 web",
    "ssh -p 2222 deploy@build-host",
    "mysql -h db -P 3306 -u app -p",
    'curl -u "${DB_USER}:${DB_PASS}" http://localhost:9200',
    "password_min_length = 12",
    "The password field is required.",
    "Authorization: Bearer ${API_TOKEN}",
    "secret_name: prod/payments/db",
    "meet me at the station at 5",
    "compute the dot product at each step",
    "look at setup.py for the version",
    "docker login --password-stdin ghcr.io",
    "sorted(rows, key=itemgetter(1))",
    # Round two: flagged before it, or near the new rules.
    "export DB_PASSWORD=${DB_PASSWORD:?missing}",
    "db_password: !vault |",
    "PASSWORD_HASHERS = ['django.contrib.auth.hashers.Argon2PasswordHasher']",
    "sshpass -p 'x' ssh pi@raspberrypi.local",
    "password: /run/secrets/db_password",
    "credentials: ~/.aws/credentials",
    "type python3 at the prompt",
    "I entered the wrong password at the prompt twice",
    "login as admin with the password from the vault",
    "my password manager is 1Password",
    "ssh-keygen -t rsa -b 4096 -N '' -f key",
    "net user bob /add",
    "sqlplus / as sysdba",
    "Authorization: Bearer {{ token }}",
    "the password hash is stored as bcrypt",
    # Round three: near its rules.
    "pin: numpy==1.26.4",
    "the key is Base64Url encoded",
    "<passwordPolicy>strict</passwordPolicy>",
    "use origin / main for the base",
    "Password: see the shared vault entry",
    "the passphrase is long and random",
    "login(username, password)",
    "session_timeout = 3600",
    "I've set MYSQL_PWD to something safe",
    "typing python3 at the prompt opens the REPL",
    # Round four: flagged before it (the first three), or near its rules.
    "password: ${VAULT_PASSWORD:-changeme}",
    "x_api_key_header = 'X-Api-Key'",
    "the talk at PyCon dot org was great",
    "journalctl -u nginx -p err --since today",
    "ps -u bob -p 4242",
    "docker run -u 1000 -p 8080:80 nginx",
    "mysql -u root -p shop2024",
    "changed it from Python3 to Python311",
    "the error code is 0x80070005",
    "the promo code is SUMMER24",
    "we use Vault as the password store",
    "net use \\\\srv\\share * /user:bob",
    "localhost:5432:*:postgres:*",
    "ConvertTo-SecureString $plain -AsPlainText -Force",
    # Round five: near its rules.
    "I put config2.yaml in the password folder",
    "account: sales / marketing",
    "credentials ~/.aws/credentials:default",
    # Round six: flagged before it (the first ten), or near its rules: references, placeholders, help texts,
    # status lines, digests, ciphertext, file names, model names, cmdlets, fingerprints, publishable keys.
    "DB_PASSWORD=op://vault/db/password",
    "ANTHROPIC_API_KEY=your-api-key-here",
    "vault kv put secret/app token=@token.txt",
    "passwd: password updated successfully",
    '"sha256Digest": "Zk9qL2mN4pR7tV1wX3yB5cD8fG0hJ6kA="',
    "password_encryption = scram-sha-256",
    "GITHUB_TOKEN=ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "secret: ENC[AES256_GCM,data:bm90YXNlY3JldA==,iv:Qm9ndXNJdlZhbHVlMTIzNDU2Nzg5MA==,tag:VGFnVmFsdWUxMjM0NTY3OA==,"
    "type:str]",
    "Host key fingerprint is SHA256:Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdo",
    "the publishable key is pk_live_51HqLzK2eZvKYlo2C8Xy9aBcD",
    "  --token TOKEN   the API token (default: read from the environment)",
    'API_TOKEN = Path("token.txt").read_text()',
    "tokenizer = AutoTokenizer.from_pretrained('roberta-base-v2')",
    "$cred = Get-Credential -UserName admin",
    "snmpwalk -v2c -c public localhost",
    "msbuild app.sln /p:Configuration=Release",
    "I am at home.com right now, send it later",
    'token = request.headers.get("X-Auth-Token")',
    'password = getpass.getpass("Password: ")',
    "wpa_passphrase HomeNet > wpa.conf",
    # Found by sweeping round six over ordinary code and documentation (none of them a secret).
    'word = part.strip(".:!?-")  # token = part.strip(".:!?-")',
    'TOKEN_ENTRY: Final = "backend-api-token"',
    "n = buf.length / Uint32Array.BYTES_PER_ELEMENT;",
    "use --jobs=4 with the old build",
    "the key and passphrase using PKCS#5 v2.0",
    "fix tls-passphrase tests (Jane Roe) [#41234](https://github.com/org/repo/pull/41234)",
    'out = tmp_path / "my dir 100%" / "app"',
    "X448PrivateKey = rust_openssl.x448.X448PrivateKey",
    'bus.call("UnlockWithMasterPassword", "o(oayays)", path)',
    # Round seven: the look-alike beside each new family.
    "the random seed for the run is 1234567890",
    "the password (see the policy) is required",
    "the password you set, hunter, is weak",
    "Server=sql1;Password=${DB_PASS};Database=crm",
    "credentials: none, see the wiki",
    "cd /opt/zip/releases && ls",
    '["--password", "$REDIS_PASS"]',
    "sas=true",
    'shortcut_key = "Ctrl+Shift+K1"',
    "the code for the door is on the wiki",
    "recovery codes, see below",
    "pass config.yaml to the loader",
    "set the password on server01 first",
    "the password is the word of the day",
    "user=$U pass=$P",
    "pass the token as an argument",
    "firstname dot lastname at example dot com is the naming convention",
    "clone git@github.com:org/repo.git",
    "the password is required, ask an admin",
    "I need the password to login.",
    "changed my password to something stronger",
    "the password is stored in vault",
    "the password length for the safe is 1234",
    "zip -P 0000 notes.zip",
    'token = os.getenv("TOKEN") or "your-token-here"',
    "restic --password-command 'echo $RESTIC_PW' snapshots",
    # Round eight: masked tokens, names of secret objects, tags and paths that say where a secret is, sealed
    # ciphertext, placeholder user-info, and prose the new rules must not read as a value.
    "GITLAB_TOKEN: glpat-********************",
    "withCredentials([string(credentialsId: 'deploy-key', variable: 'KEY')]) {",
    'Secret string `json:"secret" validate:"required,min=32"`',
    "  existingSecret: redis-credentials",
    "pw: \"{{ lookup('hashi_vault', 'secret=secret/data/app:password') }}\"",
    "kind: SealedSecret\nspec:\n  encryptedData:\n    token: AgBy8hZq3kLmN0pQrStUvWxYz1aB2cD3eF4gH5iJ6kL7mN8oP9qR0s==",
    "DATABASE_URL=postgres://user:password@localhost:5432/app",
    "\turl=mysql://$(DB_USER):$(DB_PASSWORD)@db/app",
    "my password is just too long for that form",
    "set the password to expire after ninety days",
    "the auth is OAuth2 through the gateway",
    "chown root:wheel /etc/sudoers.d/ops",
    "the OAuth scopes are admin:org and user:email",
    "we are at this point in time still blocked",
    "the wifi key is stored in the keychain",
    "ssh pw auth disabled since v2.3.1-RC!",
    "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-changeme}",
    "the passphrase is too weak and must be changed",
    'return redirect(reverse("admin:index"))',
    "create an app password when your user has 2fa enabled",
    "the password, er, is not set yet",
    "密码是必填项",
    "$ cat password_policy.md\n# Password policy",
    "the wireless network is down again, the key card too",
    "Auth key description: .request_key_auth;1000;1000;0b010000;20d035bf",
    "the initrd image is owned by root:disk",
    "look -t: root:foobar /tmp/look.dict",
    "password=$DB_PASS2",
    "password: *default_password",
    "password = %(db_password)s",
]


@pytest.mark.parametrize(("kind", "text", "value"), CREDENTIALS, ids=[t[:24] for _, t, _ in CREDENTIALS])
def test_credentials_and_spelled_addresses_are_redacted(kind: str, text: str, value: str) -> None:
    result = sanitize(text)
    assert value not in result.text and placeholder_in(result.text, kind)


def placeholder_in(text: str, kind: str) -> bool:
    return f"[{kind}]" in text


@pytest.mark.parametrize(
    "text",
    [
        "Token (will be hidden): hvs.CAESIK9Lm2Qx7Rt5Vw8Yz1Ab4Cd",
        "Token (will be hidden): ya29.a0AfH6SMBx7Kp2Lm9Qr4Tv6Wz1",
    ],
)
def test_a_token_prefix_with_a_dot_is_redacted_with_its_token(text: str) -> None:
    # The generic rule's alphabet has no dot, so it left "hvs." / "ya29." in the clear before their prefixes.
    assert sanitize(text).text == "Token (will be hidden): [SECRET]"


@pytest.mark.parametrize("text", CREDENTIAL_LOOK_ALIKES)
def test_credential_look_alikes_are_kept(text: str) -> None:
    assert find_pii(text) == []


#: Each credentials split with its size and the floors it is held to (recall, precision; its look-alike lines
#: must all be kept). Development splits: what the round tuned on each reached there, held against regressions
#: (dev: rounds one to five; dev2, written blind: round six; dev3: round seven; dev4: round eight, after it scored
#: recall 0.849 and kept 0.946 before any rule used it). The first held-out split was written with dev, before
#: the rules, and is only measured: its floors are what it measured. The URL pieces around a secret in a URL's
#: parameters, which dev2-dev4 label as the secret alone, and in dev2 a webhook's token typed SECRET where the file
#: says URL, keep their precision below 1. (The blind held-out split is printed by bench/sanitizer.py only.)
CREDENTIAL_SPLITS = [
    pytest.param(CREDENTIALS_DEV, 600, 0.99, 0.99, id="dev"),
    pytest.param(CREDENTIALS_HELDOUT, 70, 0.97, 0.97, id="heldout"),
    pytest.param(CREDENTIALS_DEV2, 700, 0.985, 0.985, id="dev2"),
    pytest.param(CREDENTIALS_DEV3, 300, 0.96, 0.985, id="dev3"),
    pytest.param(CREDENTIALS_DEV4, 400, 0.985, 0.965, id="dev4"),
]


@pytest.mark.parametrize(("path", "min_lines", "min_recall", "min_precision"), CREDENTIAL_SPLITS)
def test_credentials_split_holds_its_floors(
    path: Path, min_lines: int, min_recall: float, min_precision: float
) -> None:
    lines = load(path)
    assert len(lines) >= min_lines
    assert all(label_spans(entry) or entry.get("tag") for entry in lines)  # labels in order, or a look-alike tag
    result = score(lines)
    assert result.recall >= min_recall and result.precision >= min_precision and result.touched == 0, (
        result.recall,
        result.precision,
        result.touched,
    )


# ------------------------------------------------------------------------------------------------------------
# Adversarial input: no catastrophic backtracking, no crash.

SIZE = 65_536


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_input_completes(name: str) -> None:
    text = ADVERSARIAL[name](SIZE)
    result = sanitize(text)
    findings = find_pii(text)
    assert all(0 <= f.start < f.end <= len(text) for f in findings)
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))
    assert result.found == tuple(sorted({f.type for f in findings}))


_PIECES = st.sampled_from(
    ["a", "Z", "0", "1", "4", "9", " ", "\n", ".", "-", "_", "@", ":", "/", "\\", "+", "(", ")", "#", "=", "'", '"',
     "~", "%", "?", "&", "https://", "/home/", "C:\\Users\\", "born ", "DOB ", "SSN ", "password=", "sk-", "ghp_",
     "AKIA", "eyJ", "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "DE89", "4111", "::",
     "192.168.", "+1 ", "555", "2671", "example.com", "é", "İ", "(◕‿◕)"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60).map("".join))
def test_any_text_gives_ordered_in_bounds_findings_and_a_consistent_result(text: str) -> None:
    findings = find_pii(text)
    assert all(0 <= f.start < f.end <= len(text) and f.type in TYPES for f in findings)
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))
    result = sanitize(text)
    assert result.found == tuple(sorted({f.type for f in findings}))
    kept = [text[a.end : b.start] for a, b in itertools.pairwise(findings)]
    assert all(piece in result.text for piece in kept)
