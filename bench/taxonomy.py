"""Kaomoji detection: the spec's baseline rules against the journal's detector, on the face corpus.

    .venv/bin/python bench/taxonomy.py [--rounds N]

Prints, per detector: recall on three sets of faces (detected = called face-led; whole = the face returned is
exactly the listed face), the false-positive rate on two sets of assistant-message openers (with the
openers each detector took, by kind), and throughput: messages a second over the whole corpus (about 2,000
messages, three quarters of them face-led, far more than a real journal), on a first pass with the
taxonomy's memoized verdicts cleared and as the best of ``--rounds`` warm passes (a journal repeats its
faces), plus ``canonicalize`` the same way. The corpus and what its numbers mean:
``tests/data/faces/README.md``.

The held-out sets (``*_holdout``) were measured once when the detector was first complete, and are kept
out of tuning. That first run: baseline detected 123/154, whole 40, false positives 40/139; detector
detected 142/154, whole 63, false positives 1/139. Later changes made for the compatibility test (a face
the spec takes whole is taken the same) moved the detector to 144/154 and 65 whole; nothing was changed
after reading the held-out misses.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmojid.common import taxonomy
from llmojid.common.taxonomy import baseline_leading_face, canonicalize, leading_face

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "faces"
TEMPLATES = ("{f} Done! The tests pass now.", "{f}\n\nI found the bug.", "  {f} Sure, here it is.", "{f}")
Detector = Callable[[str], "tuple[str, str] | None"]
DETECTORS: dict[str, Detector] = {"spec baseline": baseline_leading_face, "detector": leading_face}


def faces(name: str) -> list[str]:
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys(line for line in lines if line.strip()))


def openers(name: str) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (CORPUS / name).read_text(encoding="utf-8").splitlines() if line]
    return [(row["kind"], row["text"]) for row in rows]


def messages(face_list: list[str]) -> list[tuple[str, str]]:
    """(face, message) pairs, the templates taken in turn."""
    return [(f, TEMPLATES[i % len(TEMPLATES)].format(f=f)) for i, f in enumerate(face_list)]


def recall(detect: Detector, pairs: list[tuple[str, str]]) -> tuple[int, int]:
    detected = whole = 0
    for face, message in pairs:
        found = detect(message)
        if found is not None:
            detected += 1
            whole += found[0] == face
    return detected, whole


def clear_caches() -> None:
    """Forget the taxonomy's memoized verdicts (private, but a cold pass is the honest worst case)."""
    for fn in (taxonomy._canonicalize_cached, taxonomy._body_is_face, taxonomy._bare_face, taxonomy._kind):
        fn.cache_clear()


def throughput(fn: Callable[[str], object], inputs: list[str], rounds: int) -> tuple[float, float]:
    """Calls a second: (the first pass with cold caches, the best of ``rounds`` warm passes)."""
    clear_caches()
    times = []
    for _ in range(1 + rounds):
        start = time.perf_counter()
        for text in inputs:
            fn(text)
        times.append(time.perf_counter() - start)
    return len(inputs) / times[0], len(inputs) / min(times[1:])


def pct(n: int, d: int) -> str:
    return f"{n:>4}/{d:<4} {100 * n / d:5.1f}%"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timing passes; the best is reported")
    args = parser.parse_args()

    positive_sets = {
        "public list (dev)": messages(faces("positives.txt")),
        "public list (held out)": messages(faces("positives_holdout.txt")),
        "spec faces": messages(faces("spec_faces.txt")),
    }
    negative_sets = {
        "openers (dev)": openers("negatives.jsonl"),
        "openers (held out)": openers("negatives_holdout.jsonl"),
    }
    everything = [m for pairs in positive_sets.values() for _, m in pairs]
    everything += [t for rows in negative_sets.values() for _, t in rows]

    print(f"{'':26}" + "".join(f"{name:>34}" for name in DETECTORS))
    for set_name, pairs in positive_sets.items():
        cells = [recall(detect, pairs) for detect in DETECTORS.values()]
        print(f"{'recall ' + set_name:26}" + "".join(f"{'detected ' + pct(d, len(pairs)):>34}" for d, _ in cells))
        print(f"{'':26}" + "".join(f"{'whole ' + pct(w, len(pairs)):>34}" for _, w in cells))
    taken: dict[str, Counter[str]] = {name: Counter() for name in DETECTORS}
    for set_name, rows in negative_sets.items():
        line = f"{'false pos. ' + set_name:26}"
        for name, detect in DETECTORS.items():
            hits = [kind for kind, text in rows if detect(text) is not None]
            taken[name].update(hits)
            line += f"{pct(len(hits), len(rows)):>34}"
        print(line)
    rates = [throughput(detect, everything, args.rounds) for detect in DETECTORS.values()]
    print(f"{'messages / s, cold':26}" + "".join(f"{cold:>34,.0f}" for cold, _ in rates))
    print(f"{'messages / s, warm':26}" + "".join(f"{warm:>34,.0f}" for _, warm in rates))
    cold, warm = throughput(canonicalize, [f for pairs in positive_sets.values() for f, _ in pairs], args.rounds)
    print(f"{'canonicalize / s, cold':26}{cold:>34,.0f}")
    print(f"{'canonicalize / s, warm':26}{warm:>34,.0f}")
    print()
    for name, counts in taken.items():
        kinds = ", ".join(f"{kind} {n}" for kind, n in counts.most_common()) or "none"
        print(f"openers taken for faces by the {name}: {kinds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
