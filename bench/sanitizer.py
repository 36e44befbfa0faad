"""The PII sanitizer measured: precision and recall per type on the labeled corpus, and throughput.

    .venv/bin/python bench/sanitizer.py [--errors] [--quick]

Scoring, on every corpus printed separately (the list, the scoring rule and the format's reading are in
``tests/sanitizer_corpus.py``, shared with the tests; the format is in ``tests/data/sanitizer/README.md``): the
regression corpus written with the rules, the development splits the rules were tuned on, and the held-out
splits, written before the rules and never tuned on (the fair numbers). A label is recalled when a finding of its
type overlaps it; a finding is precise when it overlaps a label of its type. "leaks" counts labels of which any
character stays in the clear (not covered by some finding, of whatever type). ``--errors`` prints every missed
label and every false finding with its line (the corpus is invented test data, so printing it is fine).

Throughput: the corpus lines one ``sanitize`` call each (the way samples are sanitized), and the corpus
joined into blocks of MAX_INPUT_CHARS. Then the adversarial inputs (``tests/sanitizer_corpus.ADVERSARIAL``),
each at four sizes up to the cap: the time must grow linearly (the ratio of the largest to the smallest time
should be near the size ratio, 8); a backtracking blow-up would show as a ratio of 64 or more. Times are the best
of a few runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmojid.common.sanitizer import MAX_INPUT_CHARS, TYPES, sanitize
from tests.sanitizer_corpus import ADVERSARIAL, CORPUS, SPLITS, Entry, load
from tests.sanitizer_corpus import score as score_corpus


def score(corpus: list[Entry], errors: bool, title: str = "") -> tuple[float, float, float]:
    """Print the per-type table; return (precision, recall, share of look-alike lines left untouched)."""
    result = score_corpus(corpus)
    if errors:
        print("\n".join(f"  {line}" for line in result.errors))
    heading = f"{title}: " if title else "Corpus: "
    print(
        f"\n{heading}{len(corpus)} lines, {sum(result.labels.values())} labels, {result.negatives} lines without PII\n"
    )
    print(f"{'type':8s} {'labels':>6s} {'found':>6s} {'precision':>9s} {'recall':>7s} {'leaks':>5s}")
    for kind in TYPES:
        found, labels = result.found[kind], result.labels[kind]
        p = result.precise[kind] / found if found else 1.0
        r = result.recalled[kind] / labels if labels else 1.0
        print(f"{kind:8s} {labels:6d} {found:6d} {p:9.3f} {r:7.3f} {result.leaks[kind]:5d}")
    all_found, all_labels, all_leaks = (sum(c.values()) for c in (result.found, result.labels, result.leaks))
    print(f"{'all':8s} {all_labels:6d} {all_found:6d} {result.precision:9.3f} {result.recall:7.3f} {all_leaks:5d}")
    if result.false_by_tag:
        tags = ", ".join(f"{t} {n}" for t, n in result.false_by_tag.most_common())
        print(f"\nFalse findings by look-alike tag: {tags}")
    return result.precision, result.recall, result.kept


def best_time(fn: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def throughput(corpus: list[Entry], runs: int) -> None:
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
