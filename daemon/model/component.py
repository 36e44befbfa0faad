"""The synthesis component: the daemon's `analyze`, `analyze.plan` and `model.status` requests.

`analyze` walks the journal's cells (most-used first), and for each one: picks and prepares its samples
(`prompt.py`: seeded choice, `[FACE]` masking, sanitizer, caps), looks the cell up in the sealed cache
(`cache.py`), and on a miss asks the synthesizer (`backends.py`: the local llama.cpp model, or an
OpenAI-compatible endpoint) for a bag, which is validated, sealed and cached. Every finished cell streams one
Progress event:
``{"event": "cell", "source_model", "kaomoji", "synthesis": {...} | null, "error": str | null, "cached", "index",
"total", "samples", "seconds"}``; the reply is a summary (counts, model, method, backend). A failed cell (deadline,
context, invalid answer) is reported and skipped, never filled with a guess and never cached; a problem with the
model itself (missing or corrupt file, unreachable endpoint) stops the job with a MODEL error naming the path.

Cancellation: the server reads nothing while a handler runs, so the handler watches its client itself: a
heartbeat Progress event (`{"event": "tick"}`) goes out every `HEARTBEAT_SECONDS`; writing to a client that went
away (Ctrl-C, closed socket) fails at once on a Unix socket, which cancels the job's scope; the model call then
stops at its next chunk check (runner.py). So a cancelled analyze stops in the daemon within about a second.
Progress sends are serialized by a lock (two tasks must not write one stream at once).

Resource handling: the component owns one synthesizer (and so at most one loaded model) at a time; a request for
another model replaces it. Jobs run one at a time (`_job_lock`); a second request waits for the first. The
background task unloads an idle model; `close` stops calls in flight and unloads.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import msgspec
import trio

from llmojid.client import paths
from llmojid.client import protocol as p
from llmojid.common.lexicon import Bag
from llmojid.daemon.dispatch import CallContext, Dispatcher, DispatchError, args_as
from llmojid.daemon.keys import KeyManager
from llmojid.daemon.model import cache
from llmojid.daemon.model.backends import LocalSynthesizer, RemoteSynthesizer, Synthesizer
from llmojid.daemon.model.cells import Cell, cell_rows, list_cells
from llmojid.daemon.model.embedded import DEFAULT_EMBEDDED, EMBEDDED_MODELS
from llmojid.daemon.model.openai_backend import (
    API_KEY_ENTRY,
    BackendError,
    OpenAICompatClient,
    RemoteRefused,
    parse_endpoint,
)
from llmojid.daemon.model.prompt import PromptSample, prepare_sample
from llmojid.daemon.model.runner import (
    CallCancelled,
    ContextOverflow,
    DeadlineExceeded,
    ModelError,
    ModelRunner,
    RunnerConfig,
)
from llmojid.daemon.model.settings import ModelSettings, SettingsError, load_settings
from llmojid.daemon.model.synthesis import Method, SynthesisError
from llmojid.daemon.store import Store

log = logging.getLogger("llmojid.synthesis")

T = TypeVar("T")

#: How often a running job proves its client is still there (and the CLI's bar gets a tick).
HEARTBEAT_SECONDS: Final = 0.5
#: Per-cell seconds assumed by `--dry-run` before this daemon has timed a cell with that model and method: the
#: embedded SmolLM2-135M with English samples on a plain 2-core x86-64 machine (bench/synthesis.py measured 5.3 s
#: and 8.7 s of CPU per cell on one thread of a slow one). Bigger models take longer; the estimate then follows the
#: cells this daemon has timed.
DEFAULT_CELL_SECONDS: Final = {Method.SCORING: 4.0, Method.GENERATION: 8.0}
#: The same for each embedded model with the scoring method (bench/synthesis.py, CPU seconds per cell on one
#: thread of the same slow machine), so `--dry-run` estimates with the chosen model.
EMBEDDED_SCORING_SECONDS: Final = {"SmolLM2-135M-Instruct.Q4_1.gguf": 3.7, "gemma-3-270m-q4_k_m.gguf": 3.4}
DEFAULT_LOAD_SECONDS: Final = 1.0
#: Weight of the newest cell in the running per-cell time (an exponential moving average).
EWMA_WEIGHT: Final = 0.2


class AnalyzeArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Arguments of `analyze` and `analyze.plan` (empty / 0 = the config's or the default)."""

    model_path: str = ""
    embedded_model: str = ""
    method: str = ""
    limit: int = 0
    backend_url: str = ""
    backend_model: str = ""
    allow_remote: bool = False
    deadline_seconds: float = 0.0


@dataclass
class _Watch:
    """The job's line to its client: serialized progress sends; a failed send cancels the job's scope."""

    ctx: CallContext
    scope: trio.CancelScope
    lock: trio.Lock
    gone: bool = False

    async def send(self, event: dict[str, object]) -> None:
        async with self.lock:
            try:
                await self.ctx.send_progress(event)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.gone = True
                self.scope.cancel()
        await trio.lowlevel.checkpoint()  # raises Cancelled at once if the client went away

    async def heartbeat(self) -> None:
        started = trio.current_time()
        while True:
            await trio.sleep(HEARTBEAT_SECONDS)
            await self.send({"event": "tick", "elapsed": round(trio.current_time() - started, 1)})


class SynthesisComponent:
    """See the module docstring. Built by `daemon/components.py` from the running daemon."""

    def __init__(self, store: Store, keys: KeyManager, config_dir: Path | None = None) -> None:
        self.store = store
        self.keys = keys
        self.config_dir = config_dir or paths.config_dir()
        self._synth: Synthesizer | None = None
        self._synth_key: tuple[object, ...] | None = None
        self._job_lock = trio.Lock()
        self._dispatcher: Dispatcher | None = None
        self._cell_seconds: dict[tuple[str, str, str], float] = {}

    # --- lifecycle ---------------------------------------------------------------------------------------------
    def register(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        dispatcher.add_named("analyze", self._analyze)
        dispatcher.add_named("analyze.plan", self._plan)
        dispatcher.add_named("model.status", self._model_status)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Unload the local model once it has been idle for its configured time."""
        task_status.started()
        while True:
            synth = self._synth
            if isinstance(synth, LocalSynthesizer):
                await trio.sleep(max(0.05, min(30.0, synth.runner.config.idle_unload_s / 4)))
                if synth.runner.is_loaded and await trio.to_thread.run_sync(synth.runner.unload_if_idle):
                    log.info("unloaded the idle model")
            else:
                await trio.sleep(1.0)

    def close(self) -> None:
        if self._synth is not None:
            self._synth.close()
            self._synth = None

    # --- handlers ----------------------------------------------------------------------------------------------
    async def _analyze(self, msg: p.Request, ctx: CallContext) -> p.Result:
        args = _checked(args_as(AnalyzeArgs, msg))
        return p.Result(value=await self._watched(ctx, lambda watch: self._run_job(args, watch)))

    async def _plan(self, msg: p.Request, ctx: CallContext) -> p.Result:
        args = _checked(args_as(AnalyzeArgs, msg))
        return p.Result(value=await self._watched(ctx, lambda watch: self._make_plan(args)))

    async def _model_status(self, msg: p.Request, _ctx: CallContext) -> p.Result:
        if self._synth is None:
            return p.Result(value={"loaded": False, "model_id": None, "backend": None})
        return p.Result(value=self._synth.status())

    async def _watched(self, ctx: CallContext, body: Callable[[_Watch], Awaitable[T]]) -> T:
        """Run `body` one job at a time, cancelled as soon as the client goes away (module docstring).

        Errors are caught inside the nursery and raised after it, so the dispatcher sees the error itself rather
        than an exception group.
        """
        failure: Exception | None = None
        result: T | None = None
        with trio.CancelScope() as scope:
            watch = _Watch(ctx, scope, trio.Lock())
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch.heartbeat)
                try:
                    async with self._job_lock:
                        result = await body(watch)
                except Exception as exc:
                    failure = exc
                finally:
                    nursery.cancel_scope.cancel()
        if scope.cancelled_caught or watch.gone:
            log.info("analyze cancelled: the client went away")
            raise DispatchError(p.ErrorCode.CANCELLED, "analyze was cancelled (the client went away)")
        if failure is not None:
            raise _translated(failure) from None
        return result  # type: ignore[return-value]

    # --- the job -----------------------------------------------------------------------------------------------
    async def _run_job(self, args: AnalyzeArgs, watch: _Watch) -> dict[str, Any]:
        synth, method, settings = await self._resolve(args)
        fingerprint = await trio.to_thread.run_sync(synth.fingerprint)
        cells = await self._cells(args.limit)
        started = time.monotonic()
        counts = {"synthesized": 0, "cached": 0, "failed": 0}
        await watch.send(
            {
                "event": "start",
                "total": len(cells),
                "model": synth.model_id,
                "backend": synth.backend,
                "method": method.value,
            }
        )
        for index, cell in enumerate(cells, start=1):
            if self._dispatcher is not None and not self._dispatcher.ready:
                raise DispatchError(p.ErrorCode.SHUTTING_DOWN, "the daemon is shutting down; run analyze again")
            samples = await self._samples(cell)
            if not samples:
                continue
            key = cache.CellKey(
                synth.model_id, synth.backend, method.value, cell.source_model, cell.canonical, fingerprint
            )
            wanted = cache.samples_key(self.store, key, samples)
            cell_started = time.monotonic()
            bag = await self.store.read(self._lookup(key, wanted))
            cached, error = bag is not None, None
            if bag is None:
                await watch.send({"event": "cell-start", "index": index, "total": len(cells)})
                try:
                    bag = await synth.synthesize(
                        method,
                        samples,
                        deadline_s=args.deadline_seconds or settings.deadline_seconds,
                        max_tokens=settings.max_tokens,
                        face=cell.canonical,
                    )
                except (DeadlineExceeded, ContextOverflow, SynthesisError) as exc:
                    error = _cell_error(exc)
                else:
                    made, count = bag, len(samples)
                    await self.store.write(
                        functools.partial(self._store_bag, key=key, wanted=wanted, count=count, made=made)
                    )
                    self._timed(synth, method, time.monotonic() - cell_started)
            counts["cached" if cached else "failed" if error else "synthesized"] += 1
            await watch.send(
                {
                    "event": "cell",
                    "source_model": cell.source_model,
                    "kaomoji": cell.canonical,
                    "synthesis": bag.to_dict() if bag is not None else None,
                    "error": error,
                    "cached": cached,
                    "index": index,
                    "total": len(cells),
                    "samples": len(samples),
                    "seconds": round(time.monotonic() - cell_started, 3),
                }
            )
        return {
            "total": len(cells),
            **counts,
            "model": synth.model_id,
            "backend": synth.backend,
            "method": method.value,
            "seconds": round(time.monotonic() - started, 3),
        }

    async def _make_plan(self, args: AnalyzeArgs) -> dict[str, Any]:
        synth, method, _settings = await self._resolve(args)
        fingerprint = await trio.to_thread.run_sync(synth.fingerprint)
        cells = await self._cells(args.limit)
        rows: list[dict[str, Any]] = []
        misses = 0
        for cell in cells:
            samples = await self._samples(cell)
            key = cache.CellKey(
                synth.model_id, synth.backend, method.value, cell.source_model, cell.canonical, fingerprint
            )
            wanted = cache.samples_key(self.store, key, samples)
            hit = bool(samples) and await self.store.read(self._lookup(key, wanted)) is not None
            misses += 0 if hit else 1
            rows.append(
                {
                    "source_model": cell.source_model,
                    "kaomoji": cell.canonical,
                    "rows": cell.count,
                    "samples": len(samples),
                    "cached": bool(hit),
                }
            )
        per_cell, basis = self._estimate(synth, method)
        loaded = bool(synth.status().get("loaded"))
        load = 0.0 if loaded or synth.backend != LocalSynthesizer.backend or not misses else DEFAULT_LOAD_SECONDS
        return {
            "cells": rows,
            "total": len(rows),
            "to_synthesize": misses,
            "cached": len(rows) - misses,
            "model": synth.model_id,
            "backend": synth.backend,
            "method": method.value,
            "estimate_seconds": round(misses * per_cell + load, 1),
            "estimate_basis": basis,
        }

    # --- helpers -----------------------------------------------------------------------------------------------
    async def _cells(self, limit: int) -> list[Cell]:
        cells = await self.store.read(list_cells)
        return cells[:limit] if limit else cells

    async def _samples(self, cell: Cell) -> list[PromptSample]:
        rows = await self.store.read(lambda conn: cell_rows(self.store, conn, cell))
        return await trio.to_thread.run_sync(lambda: [prepare_sample(row, cell.canonical) for row in rows])

    async def _resolve(self, args: AnalyzeArgs) -> tuple[Synthesizer, Method, ModelSettings]:
        """The synthesizer, method and settings for this request (config file, then the request's overrides)."""
        settings = await trio.to_thread.run_sync(load_settings, self.config_dir)
        backend_url = args.backend_url or settings.backend_url
        if backend_url:
            if args.model_path:
                raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "--model and a backend URL exclude each other")
            if args.method == Method.SCORING:
                raise DispatchError(
                    p.ErrorCode.INVALID_ARGUMENT,
                    "the scoring method needs the local model's likelihoods; use --method generation with a backend",
                )
            model = args.backend_model or settings.backend_model
            if not model:
                raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "a backend URL needs a model name (--backend-model)")
            endpoint = parse_endpoint(backend_url, allow_remote=args.allow_remote or settings.allow_remote)
            api_key = await trio.to_thread.run_sync(self._api_key)
            key: tuple[object, ...] = ("remote", endpoint, model, api_key is not None)
            if key != self._synth_key:
                await self._replace(RemoteSynthesizer(OpenAICompatClient(endpoint, model)), key)
            assert isinstance(self._synth, RemoteSynthesizer)
            self._synth.client.api_key = api_key  # refreshed per job: a rotated key applies at once
            return self._synth, Method.GENERATION, settings
        if args.model_path and args.embedded_model:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "--model and --embedded-model exclude each other")
        # a request's embedded model wins over the config's model_path, as a request's path does
        path = "" if args.embedded_model else args.model_path or settings.model_path
        if path and not Path(path).is_absolute():
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "the model path must be absolute")
        embedded = args.embedded_model or settings.embedded_model or DEFAULT_EMBEDDED
        if embedded not in EMBEDDED_MODELS:
            raise DispatchError(
                p.ErrorCode.INVALID_ARGUMENT, f"unknown embedded model (known: {', '.join(EMBEDDED_MODELS)})"
            )
        config = RunnerConfig(
            model_path=Path(path) if path else None,
            embedded="" if path else embedded,
            n_ctx=settings.n_ctx,
            n_threads=settings.n_threads,
            idle_unload_s=settings.idle_unload_seconds,
        )
        key = ("local", config)
        if key != self._synth_key:
            await self._replace(LocalSynthesizer(ModelRunner(config)), key)
        assert self._synth is not None
        return self._synth, Method(args.method or settings.method), settings

    def _lookup(self, key: cache.CellKey, wanted: bytes) -> Callable[[sqlite3.Connection], Bag | None]:
        """The cache read for one cell, as a function of the reader connection (typed, unlike a lambda)."""

        def read(conn: sqlite3.Connection) -> Bag | None:
            return cache.lookup(self.store, conn, key, wanted)

        return read

    def _store_bag(self, conn: sqlite3.Connection, *, key: cache.CellKey, wanted: bytes, count: int, made: Bag) -> None:
        cache.store_bag(self.store, conn, key, wanted, count, made)

    async def _replace(self, synth: Synthesizer, key: tuple[object, ...]) -> None:
        old, self._synth, self._synth_key = self._synth, synth, key
        if old is not None:
            await trio.to_thread.run_sync(old.close)

    def _api_key(self) -> str | None:
        return self.keys.lookup(API_KEY_ENTRY)

    def _timed(self, synth: Synthesizer, method: Method, seconds: float) -> None:
        slot = (synth.backend, synth.model_id, method.value)
        before = self._cell_seconds.get(slot)
        self._cell_seconds[slot] = seconds if before is None else before + EWMA_WEIGHT * (seconds - before)

    def _estimate(self, synth: Synthesizer, method: Method) -> tuple[float, str]:
        measured = self._cell_seconds.get((synth.backend, synth.model_id, method.value))
        if measured is not None:
            return measured, "measured in this daemon"
        if method is Method.SCORING and synth.model_id in EMBEDDED_SCORING_SECONDS:
            return EMBEDDED_SCORING_SECONDS[synth.model_id], f"default for {synth.model_id} (approx)"
        return DEFAULT_CELL_SECONDS[method], "default for the embedded model (approx)"


def _checked(args: AnalyzeArgs) -> AnalyzeArgs:
    if args.limit < 0:
        raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "limit must be 0 (all) or more")
    if args.method and args.method not in tuple(Method):
        raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "method must be scoring or generation")
    if args.deadline_seconds < 0:
        raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "the deadline must be positive")
    return args


def _translated(exc: Exception) -> Exception:
    """A job's failure as the error the client should see (messages name the problem, never journal data)."""
    if isinstance(exc, RemoteRefused):
        return DispatchError(p.ErrorCode.INVALID_ARGUMENT, str(exc))
    if isinstance(exc, ModelError | BackendError):
        return DispatchError(p.ErrorCode.MODEL, str(exc))
    if isinstance(exc, SettingsError):
        return DispatchError(p.ErrorCode.INVALID_ARGUMENT, str(exc))
    if isinstance(exc, CallCancelled):
        return DispatchError(p.ErrorCode.CANCELLED, "the model call was cancelled")
    return exc


def _cell_error(exc: Exception) -> str:
    """A failed cell's message: the kind of failure, never the data."""
    if isinstance(exc, DeadlineExceeded):
        return "deadline exceeded"
    if isinstance(exc, ContextOverflow):
        return "the samples do not fit the model context"
    return str(exc)
