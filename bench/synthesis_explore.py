"""Dump raw (uncalibrated) primary-word scores of a labeled set under several views and answer prefixes, so that
pooling, face evidence, wording averages and calibration rules can be compared offline without re-running the
model (each rule is then pure arithmetic on this file). Used to choose the scoring method on the DEV set only.

    .venv/bin/python bench/synthesis_explore.py --model PATH --data tests/data/synthesis/dev.jsonl --out x.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmojid.common.lexicon import PRIMARY_WORDS
from llmojid.daemon.model.chat import chat_tokens
from llmojid.daemon.model.prompt import content_free, face_prompt, render_prompt
from llmojid.daemon.model.runner import Session
from llmojid.daemon.model.scoring import PRIMARY_PREFIXES, _score_words

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthesis import load_labeled, prompt_samples


def scores_for(session: Session, prompt: str) -> list[dict[str, float]]:
    session.rewind(0)
    session.eval(chat_tokens(session, prompt))
    base = session.n_past
    out = []
    for prefix in PRIMARY_PREFIXES:
        session.rewind(base)
        session.eval(session.tokenize(prefix))
        out.append(_score_words(session, PRIMARY_WORDS))
    session.rewind(0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--per-label", type=int, default=0, help="only the first N cells of each label")
    parser.add_argument("--views", default="full,single,face", help="which views to score (single = per sample)")
    args = parser.parse_args()
    import llama_cpp

    llm = llama_cpp.Llama(model_path=args.model, n_ctx=4096, n_threads=args.threads,
                          n_threads_batch=args.threads, seed=0, verbose=False)  # fmt: skip
    session = Session(llm=llm, stop=threading.Event(), deadline=math.inf, max_tokens=96, eval_chunk=64,
                      model_id=Path(args.model).name)  # fmt: skip
    cells = load_labeled(0, args.data)
    if args.per_label:
        kept: list[dict[str, Any]] = []
        for cell in cells:
            if sum(c["cell"] == cell["cell"] for c in kept) < args.per_label:
                kept.append(cell)
        cells = kept
    result: dict[str, Any] = {"cells": {}, "priors": {}, "cpu": {}}
    one = prompt_samples(cells[0])
    cpu = time.process_time()
    result["priors"]["full"] = scores_for(session, render_prompt(content_free(one, "")))
    result["priors"]["single"] = scores_for(session, render_prompt(content_free(one[:1], "")))
    result["priors"]["face"] = scores_for(session, face_prompt(""))
    result["cpu"]["priors"] = time.process_time() - cpu
    for cell in cells:
        samples = prompt_samples(cell)
        entry: dict[str, Any] = {"label": cell["cell"]}
        views = [("full", render_prompt(samples))] + [(f"s{i}", render_prompt([s])) for i, s in enumerate(samples)]
        views.append(("face", face_prompt(cell["face"])))
        wanted = set(args.views.split(","))
        for view, prompt in views:
            if (view[0] == "s" and "single" not in wanted) or (view[0] != "s" and view not in wanted):
                continue
            cpu = time.process_time()
            entry[view] = scores_for(session, prompt)
            result["cpu"][view] = result["cpu"].get(view, 0.0) + time.process_time() - cpu
        result["cells"][cell["id"]] = entry
        args.out.write_text(json.dumps(result))  # after every cell: a long run can be read while it goes
        print(cell["id"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
