"""The selectable synthesis method for bigger chat models: grammar-constrained generation of the bag.

The model writes the JSON answer itself, but llama.cpp's sampler is constrained by a GBNF grammar over the
lexicon, so every token it can emit keeps the text a prefix of a valid bag:
- exactly the two keys, in spec order, no other text;
- 1-3 primary and 3-5 stance words, each from its own list;
- distinct words: the grammar lists words in lexicon order (each word may only be followed by a later one), which
  makes a repeat impossible without a per-step constraint. The cost is that the answer's order is the lexicon's,
  not the model's preference; a bag is a set, so nothing is lost.
Decoding is greedy (temperature 0), token by token, checking the call's stop event and deadline between tokens
and capped by the call's `max_tokens`. The text is then parsed and passed through `validate_bag`; anything else
(ran out of tokens, unparsable) is a failure of the cell, never repaired or guessed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Final

from llmojid.common.lexicon import (
    PRIMARY_COUNT,
    PRIMARY_KEY,
    PRIMARY_WORDS,
    STANCE_COUNT,
    STANCE_KEY,
    STANCE_WORDS,
    Bag,
    LexiconError,
    validate_bag_json,
)
from llmojid.daemon.model.chat import chat_tokens
from llmojid.daemon.model.prompt import PromptSample, render_prompt
from llmojid.daemon.model.runner import Session


class GenerationError(LexiconError):
    """The constrained generation did not produce a complete, valid bag."""


def _instruction() -> str:
    return (
        "\n\nAnswer with one JSON object and nothing else: "
        f'"{PRIMARY_KEY}" holds {PRIMARY_COUNT[0]} to {PRIMARY_COUNT[1]} words from: '
        + ", ".join(PRIMARY_WORDS)
        + f'; "{STANCE_KEY}" holds {STANCE_COUNT[0]} to {STANCE_COUNT[1]} words from: '
        + ", ".join(STANCE_WORDS)
        + "."
    )


INSTRUCTION: Final = _instruction()


def _list_rules(prefix: str, words: Sequence[str], bounds: tuple[int, int]) -> list[str]:
    """GBNF rules for a strictly lexicon-ordered list of `bounds[0]`..`bounds[1]` distinct words.

    `{prefix}-list` is the entry rule. `{prefix}-{i}-{lo}-{hi}` continues after word `i` with between `lo` and
    `hi` more words, all later than `i` in `words`.
    """
    n = len(words)
    rules: dict[str, str] = {}

    def quoted(index: int) -> str:
        return f'"\\"{words[index]}\\""'

    def tail(index: int, lo: int, hi: int) -> str | None:
        """Name of the continuation rule, or None when nothing may follow."""
        if hi == 0:
            return None
        name = f"{prefix}-{index}-{lo}-{hi}"
        if name not in rules:
            rules[name] = ""  # reserve (no recursion cycles: index only grows)
            alternatives = []
            for nxt in range(index + 1, n):
                if n - 1 - nxt < max(lo - 1, 0):
                    break
                follow = tail(nxt, max(lo - 1, 0), hi - 1)
                alternatives.append(f'", " {quoted(nxt)}' + (f" {follow}" if follow else ""))
            body = " | ".join(alternatives)
            rules[name] = f"( {body} )?" if lo == 0 else body
        return name

    lo, hi = bounds
    entries = []
    for first in range(n):
        if n - 1 - first < lo - 1:
            break
        follow = tail(first, lo - 1, hi - 1)
        entries.append(quoted(first) + (f" {follow}" if follow else ""))
    lines = [f"{prefix}-list ::= " + " | ".join(entries)]
    lines += [f"{name} ::= {body}" for name, body in rules.items()]
    return lines


@functools.cache
def bag_grammar() -> str:
    """The GBNF grammar of a lexicon-v2 bag (see the module docstring)."""
    root = f'root ::= "{{\\"{PRIMARY_KEY}\\": [" p-list "], \\"{STANCE_KEY}\\": [" s-list "]}}"'
    return (
        "\n".join(
            [root, *_list_rules("p", PRIMARY_WORDS, PRIMARY_COUNT), *_list_rules("s", STANCE_WORDS, STANCE_COUNT)]
        )
        + "\n"
    )


def generate_cell(session: Session, samples: Sequence[PromptSample]) -> Bag:
    """Grammar-constrained synthesis of one cell.

    Raises:
        GenerationError: no complete bag within `max_tokens`, or the answer fails validation.
        CallCancelled, DeadlineExceeded, ContextOverflow: from the session.
    """
    from llama_cpp.llama_grammar import LlamaGrammar

    prompt_tokens = chat_tokens(session, render_prompt(samples) + INSTRUCTION)
    session.rewind(0)
    session.eval(prompt_tokens)  # chunked and cancellable; generate() below then reuses the cached prompt
    grammar = LlamaGrammar.from_string(bag_grammar(), verbose=False)
    eos = int(session.llm.token_eos())
    produced: list[int] = []
    finished = False
    for token in session.llm.generate(prompt_tokens, temp=0.0, top_k=1, repeat_penalty=1.0, grammar=grammar):
        session.check()
        if token == eos:
            finished = True
            break
        produced.append(int(token))
        if len(produced) >= session.max_tokens:
            break
        if session.llm.detokenize(produced).rstrip().endswith(b"]}"):
            finished = True
            break
    if not finished:
        raise GenerationError("constrained generation did not finish a bag within the token budget")
    text = session.llm.detokenize(produced)
    try:
        return validate_bag_json(text)
    except LexiconError as exc:
        raise GenerationError(f"generated answer is not a valid bag ({exc})") from exc
