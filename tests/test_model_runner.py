"""The llama.cpp runner and both synthesis methods, with the real embedded model (one load for the module).

Bounds are checked by outcome, never by timing: a deadline that passes is a clean `DeadlineExceeded` and the
model stays usable; a set stop event is `CallCancelled`; a context overflow is refused before any decode.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from llmojid.common.lexicon import CELL_OF_WORD, PRIMARY_WORDS, STANCE_WORDS, Bag, validate_bag
from llmojid.daemon.model import runner as rn
from llmojid.daemon.model.prompt import JournalSample, PromptSample, prepare_sample
from llmojid.daemon.model.synthesis import Method, SynthesisError, synthesize_cell, synthesize_cell_async

DATA = Path(__file__).parent / "data" / "synthesis"


@pytest.fixture(scope="module")
def runner() -> Iterator[rn.ModelRunner]:
    model = rn.ModelRunner(rn.RunnerConfig(n_ctx=2048))
    yield model
    model.close()


def labeled(n: int) -> list[tuple[str, list[PromptSample]]]:
    """`n` cells of the labeled set, spread over its circumplex cells, each cut to its first sample (short
    prompts keep the module's model time small; bench/synthesis.py runs the whole set)."""
    cells = [json.loads(line) for line in (DATA / "labeled.jsonl").read_text().splitlines() if line.strip()]
    out = []
    for cell in cells[:: max(1, len(cells) // n)][:n]:
        first = cell["samples"][0]
        row = JournalSample(1, cell["face"], first.get("user") or None, first["assistant"])
        out.append((cell["cell"], [prepare_sample(row, cell["face"])]))
    return out


def long_job(session: rn.Session) -> None:
    """Evaluates far more than one chunk, so the bounds are checked many times."""
    tokens = session.tokenize("a slow and steady sentence " * 60)
    session.eval(tokens[: session.n_ctx - 8])


# --- the model file -------------------------------------------------------------------------------------------------
def test_the_embedded_model_is_found_through_package_metadata() -> None:
    path = rn.default_model_path()
    assert path.name == rn.EMBEDDED_FILENAME and path.is_file()
    rn.check_gguf(path)


def test_missing_and_corrupt_model_files_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(rn.ModelError, match="not found") as info:
        rn.check_gguf(missing)
    assert str(missing) in str(info.value)
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"\x00not a model" * 100)
    with pytest.raises(rn.ModelError, match="bad magic") as info:
        rn.check_gguf(garbage)
    assert str(garbage) in str(info.value)
    with pytest.raises(rn.ModelError, match="not a regular file"):
        rn.check_gguf(tmp_path)


def test_a_truncated_gguf_is_refused_by_llama_cpp_with_the_path(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.gguf"
    with rn.default_model_path().open("rb") as src, truncated.open("wb") as dst:
        dst.write(src.read(2 << 20))  # a valid header, then nothing where the tensors should be
    broken = rn.ModelRunner(rn.RunnerConfig(model_path=truncated))
    with pytest.raises(rn.ModelError) as info:
        broken.call_sync(lambda session: None)
    assert str(truncated) in str(info.value)
    assert not broken.is_loaded


# --- bounds ---------------------------------------------------------------------------------------------------------
def test_a_deadline_is_a_clean_failure_and_the_model_stays_usable(runner: rn.ModelRunner) -> None:
    with pytest.raises(rn.DeadlineExceeded):
        runner.call_sync(long_job, deadline_s=0.05)
    assert runner.call_sync(lambda session: session.n_past) == 0  # the next call starts from an empty context


def test_a_stop_event_cancels_a_call(runner: rn.ModelRunner) -> None:
    stop = threading.Event()

    def job(session: rn.Session) -> None:
        session.eval(session.tokenize("warm up"))
        stop.set()  # as if another thread cancelled now
        long_job(session)

    with pytest.raises(rn.CallCancelled):
        runner.call_sync(job, stop=stop)


def test_context_overflow_is_refused_before_decoding(runner: rn.ModelRunner) -> None:
    def job(session: rn.Session) -> int:
        with pytest.raises(rn.ContextOverflow):
            session.eval([1] * (session.n_ctx + 1))
        return session.decode_calls

    assert runner.call_sync(job) == 0


async def test_cancelling_a_trio_caller_stops_the_worker(runner: rn.ModelRunner) -> None:
    finished = threading.Event()

    def job(session: rn.Session) -> None:
        try:
            while True:
                long_job(session)
                session.rewind(0)
        finally:
            finished.set()

    with trio.move_on_after(0.3) as scope:
        await runner.call(job, deadline_s=120)
    assert scope.cancelled_caught
    assert finished.is_set()  # `call` waited for the thread to stop before returning the cancellation
    assert await runner.call(lambda session: session.n_past) == 0


def test_idle_unload_and_reload(runner: rn.ModelRunner) -> None:
    runner.load()
    assert not runner.unload_if_idle()  # just used
    import time

    assert runner.unload_if_idle(now=time.monotonic() + runner.config.idle_unload_s + 1)
    assert not runner.is_loaded
    loads = runner.load_count
    runner.call_sync(lambda session: None)
    assert runner.is_loaded and runner.load_count == loads + 1


# --- synthesis ------------------------------------------------------------------------------------------------------
def check_bag(bag: Bag) -> None:
    assert validate_bag(bag) == bag
    assert set(bag.primary_affect) <= set(PRIMARY_WORDS)
    assert set(bag.stance_modality_function) <= set(STANCE_WORDS)


def test_scoring_gives_valid_bags(runner: rn.ModelRunner) -> None:
    # a deadline far above what a cell needs (as GENEROUS in test_analyze_daemon.py): a busy machine cannot fail it
    results = [synthesize_cell(runner, Method.SCORING, samples, deadline_s=600) for _, samples in labeled(2)]
    for bag in results:
        check_bag(bag)
        # The cell rule: every primary word comes from one circumplex cell.
        assert len({CELL_OF_WORD[w] for w in bag.primary_affect}) == 1
    # Not an accuracy test (bench/synthesis.py measures that): the calibration priors were computed once.
    assert sum(1 for key in runner.memo if key[0] == "scoring-prior") == 1


def test_generation_gives_a_valid_bag_or_a_clean_failure(runner: rn.ModelRunner) -> None:
    ((_, samples),) = labeled(1)
    try:
        bag = synthesize_cell(runner, Method.GENERATION, samples, max_tokens=96, deadline_s=600)  # busy machine
    except SynthesisError as exc:
        assert "synthesis gave no valid bag" in str(exc)
    else:
        check_bag(bag)


def test_a_synthesis_deadline_is_a_clean_failure(runner: rn.ModelRunner) -> None:
    ((_, samples),) = labeled(1)
    with pytest.raises(rn.DeadlineExceeded):
        synthesize_cell(runner, Method.SCORING, samples, deadline_s=0.01)


async def test_async_synthesis_matches_blocking(runner: rn.ModelRunner) -> None:
    samples = [PromptSample(user="did it work?", assistant="Yes, all green.")]
    assert await synthesize_cell_async(runner, Method.SCORING, samples) == synthesize_cell(
        runner, Method.SCORING, samples
    )


def test_a_copy_of_the_model_elsewhere_loads(tmp_path: Path) -> None:
    """`model_path` takes any GGUF: a copy under another name is a different model id."""
    copy = tmp_path / "renamed.gguf"
    shutil.copyfile(rn.default_model_path(), copy)
    other = rn.ModelRunner(rn.RunnerConfig(model_path=copy, n_ctx=512))
    try:
        assert other.model_id == "renamed.gguf"
        assert other.call_sync(lambda session: len(session.tokenize("hello"))) > 0
    finally:
        other.close()
