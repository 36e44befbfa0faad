"""Kaomoji detection: llmojid's detector against llmoji 3.0.0, run side by side in this process.

    .venv/bin/python bench/taxonomy.py [--rounds N] [--misses N]

Prints the table of issue 13 for the dev and the test lists (``tests/face_lists.py`` says what they are and
how they were split): faces found (recall); the same span as llmoji where llmoji finds a face; the canonical
form equal to llmoji's canonicalization of the same span; prose openers taken for a face. Then how often each
named rule decided, and throughput (messages a second, best of ``--rounds``). ``--misses N`` lists N dev faces
neither finds (the test list is never printed: it is not tuned on).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmoji import taxonomy as llmoji  # the reference, installed --no-deps by scripts/setup

from llmojid.common import taxonomy
from tests import face_lists

Split = Callable[[str], "tuple[str, str] | None"]
SPLITTERS: dict[str, Split] = {"llmojid": taxonomy.leading_face, "llmoji 3.0.0": llmoji.split_leading_kaomoji}


def measure(split: Split, face_list: list[str], openers: list[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """(hits, out of) for each row of the table."""
    found = same = with_ref = canon_ok = canon_n = 0
    for _face, message in face_lists.messages(face_list):
        got = split(message)
        ref = llmoji.split_leading_kaomoji(message)
        if got is not None:
            found += 1
            canon_n += 1
            canon_ok += taxonomy.canonicalize(got[0]) == llmoji.canonicalize_kaomoji(got[0])
        if ref is not None:
            with_ref += 1
            same += got is not None and got[0] == ref[0]
    prose = sum(split(text) is not None for _kind, text in openers)
    return {
        "faces found (recall)": (found, len(face_list)),
        "same face span as llmoji, where llmoji finds one": (same, with_ref),
        "canonical form equal to llmoji's canonicalization of the same span": (canon_ok, canon_n),
        "prose openers taken for a face": (prose, len(openers)),
    }


def ratio(hit: int, n: int, row: str) -> str:
    if row.startswith("prose"):
        return f"{hit} / {n} ({40 * hit / n:.1f} per 40)" if n else "-"
    return f"{hit / n:.4f} ({hit}/{n})" if n else "-"


def table(split_name: str) -> None:
    face_list = face_lists.faces(split_name)  # type: ignore[arg-type]
    openers = face_lists.openers(split_name)  # type: ignore[arg-type]
    results = {name: measure(fn, face_list, openers) for name, fn in SPLITTERS.items()}
    print(f"\n{split_name}: {len(face_list):,} public faces + {len(openers)} prose openers\n")
    print(f"| on the {split_name} lists | " + " | ".join(SPLITTERS) + " | goal |")
    print("|---|" + "---|" * (len(SPLITTERS) + 1))
    goals = ["≥ 0.94", "≥ 0.99", "≥ 0.999", "≤ 2 / 40"]
    for row, goal in zip(results["llmojid"], goals, strict=True):
        cells = " | ".join(ratio(*results[name][row], row) for name in SPLITTERS)
        print(f"| {row} | {cells} | {goal} |")
    decided = Counter(taxonomy.judge(m)[2] for _f, m in face_lists.messages(face_list))
    prose = Counter(taxonomy.judge(t)[2] for _k, t in openers)
    print(f"\nrules that decided ({split_name}): faces {dict(decided.most_common())}")
    print(f"rules that decided ({split_name}): openers {dict(prose.most_common())}")


def throughput(rounds: int) -> None:
    inputs = [m for _f, m in face_lists.messages(face_lists.faces("dev"))]
    inputs += [t for _k, t in face_lists.openers("dev")]
    print(f"\nthroughput on {len(inputs):,} dev messages (best of {rounds}):")
    for name, fn in (*SPLITTERS.items(), ("canonicalize (llmojid)", taxonomy.canonicalize)):
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            for text in inputs:
                fn(text)
            best = min(best, time.perf_counter() - start)
        print(f"  {name:<24} {len(inputs) / best:>12,.0f} calls/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--misses", type=int, default=0, help="list this many dev faces neither finds")
    args = parser.parse_args()
    for split_name in ("dev", "test"):
        table(split_name)
    throughput(args.rounds)
    if args.misses:
        missed = [m for _f, m in face_lists.messages(face_lists.faces("dev")) if taxonomy.leading_face(m) is None]
        print(f"\n{len(missed)} dev faces not found, the first {args.misses}:")
        for m in missed[: args.misses]:
            print("  " + repr(m))


if __name__ == "__main__":
    main()
