"""The daemon's one llama.cpp model: loaded on first use, unloaded when idle, serialized, bounded, cancellable.

Resource handling:
    `ModelRunner` owns exactly one `llama_cpp.Llama` (or none while unloaded). Every use goes through
    `call_sync` (blocking, for the bench and tests) or `call` (trio), which hold one `threading.Lock` for the
    whole time a worker thread touches the model, so calls are serialized and an unload never races a call.
    `close()` unloads; the daemon calls it at shutdown.

Bounds and cancellation:
    llama-cpp-python has no native cancel, so a job never hands the model a long sequence at once: `Session.eval`
    decodes `eval_chunk` tokens at a time and `Session.check()` runs between chunks (and between generated
    tokens). It raises `CallCancelled` once the call's stop event is set and `DeadlineExceeded` once the
    wall-clock deadline passes. The embedded 135M model decodes about 50-90 prompt tokens a second per core of a
    plain x86-64 machine, so the default chunk (16 tokens) takes about 0.2-0.3 s and a cancelled call stops well
    within a second; smaller chunks cost measurably more per token, larger ones delay cancellation. A context
    overflow is refused before any decode (`ContextOverflow`); generation is capped by `max_tokens`.

    Under trio, `call` runs the job with `abandon_on_cancel=True` so the caller's cancel scope fires at once; it
    then sets the stop event and waits (shielded, bounded by `CANCEL_GRACE_S`) for the thread to stop while
    still holding the async lock. The threading lock is held by the thread itself until it returns, so even a
    thread that overruns the grace period can never share the model with the next call.

Error handling:
    A missing, unreadable or non-GGUF model file, or one llama.cpp refuses, is a `ModelError` naming the path.
    The GGUF header is checked before llama.cpp sees the file (garbage can crash native loaders).
"""

from __future__ import annotations

import ctypes
import gc
import math
import stat
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import numpy as np
import numpy.typing as npt

from llmojid.daemon.model import embedded as embedded_models

if TYPE_CHECKING:
    import llama_cpp

T = TypeVar("T")

EMBEDDED_DISTRIBUTION: Final = embedded_models.SMOLLM2.distribution
EMBEDDED_FILENAME: Final = embedded_models.SMOLLM2.filename
GGUF_MAGIC: Final = b"GGUF"
GGUF_VERSIONS: Final = frozenset({2, 3})
# Header sanity caps: a real model has hundreds of tensors and a few dozen metadata keys.
GGUF_MAX_TENSORS: Final = 1 << 20
GGUF_MAX_KV: Final = 1 << 16

DEFAULT_N_CTX: Final = 4096
DEFAULT_N_THREADS: Final = 2
DEFAULT_EVAL_CHUNK: Final = 16
DEFAULT_IDLE_UNLOAD_S: Final = 300.0
DEFAULT_DEADLINE_S: Final = 60.0
DEFAULT_MAX_TOKENS: Final = 96
# How long a cancelled trio call waits for its worker thread to notice the stop event.
CANCEL_GRACE_S: Final = 5.0


class RunnerError(Exception):
    """Base of the runner's errors. Messages name what went wrong, never prompt or journal text."""


class ModelError(RunnerError):
    """The model file is missing, unreadable, not GGUF, or refused by llama.cpp."""


class DeadlineExceeded(RunnerError):
    """The call's wall-clock deadline passed; the cell fails cleanly and the model stays usable."""


class CallCancelled(RunnerError):
    """The call was cancelled (its stop event was set)."""


class ContextOverflow(RunnerError):
    """A job asked for more tokens than the context holds."""


def default_model_path(embedded: str = "", data_dir: Path | None = None) -> Path:
    """The file of an embedded model (`embedded.EMBEDDED_MODELS`; empty = the default one), found through its
    packages' metadata without importing them. A split model's path is where it is (or will be) assembled.

    Raises:
        ModelError: the name is unknown, or the package is not installed or does not carry the GGUF.
    """
    try:
        return embedded_models.model_file(embedded_models.lookup(embedded), data_dir)
    except embedded_models.EmbeddedModelError as exc:
        raise ModelError(f"{exc}, or set model_path") from None


def check_gguf(path: Path) -> None:
    """Refuse anything that is not a plausible GGUF file before llama.cpp reads it.

    Raises:
        ModelError: naming the path and the reason (missing, not a file, unreadable, bad magic or header).
    """
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ModelError(f"model path is not a regular file: {path}")
        with path.open("rb") as handle:
            header = handle.read(24)
    except FileNotFoundError as exc:
        raise ModelError(f"model file not found: {path}") from exc
    except OSError as exc:
        raise ModelError(f"model file unreadable ({exc.strerror or type(exc).__name__}): {path}") from exc
    if len(header) < 24 or header[:4] != GGUF_MAGIC:
        raise ModelError(f"not a GGUF model file (bad magic): {path}")
    version = int.from_bytes(header[4:8], "little")
    n_tensors = int.from_bytes(header[8:16], "little")
    n_kv = int.from_bytes(header[16:24], "little")
    if version not in GGUF_VERSIONS:
        raise ModelError(f"unsupported GGUF version {version}: {path}")
    if not (0 < n_tensors <= GGUF_MAX_TENSORS and 0 < n_kv <= GGUF_MAX_KV):
        raise ModelError(f"corrupt GGUF header: {path}")


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """Runner settings. `model_path=None` means the embedded model named `embedded` (empty = the default),
    assembled under `data_dir` (None = the user data directory) if it ships in chunks."""

    model_path: Path | None = None
    embedded: str = ""
    data_dir: Path | None = None
    n_ctx: int = DEFAULT_N_CTX
    n_threads: int = DEFAULT_N_THREADS
    n_batch: int = 512
    eval_chunk: int = DEFAULT_EVAL_CHUNK
    idle_unload_s: float = DEFAULT_IDLE_UNLOAD_S
    seed: int = 0


@dataclass
class Session:
    """What a job sees inside the worker thread: the model plus this call's bounds.

    Owned by one call; never kept after the job returns.
    """

    llm: llama_cpp.Llama
    stop: threading.Event
    deadline: float  # time.monotonic() value
    max_tokens: int
    eval_chunk: int
    model_id: str
    decode_calls: int = field(default=0)

    @property
    def n_ctx(self) -> int:
        return int(self.llm.n_ctx())

    @property
    def n_past(self) -> int:
        """Tokens currently in the KV cache (the evaluated prefix)."""
        return int(self.llm.n_tokens)

    def check(self) -> None:
        """Raise if the call was cancelled or its deadline passed. Cheap; call between every chunk."""
        if self.stop.is_set():
            raise CallCancelled("model call cancelled")
        if time.monotonic() >= self.deadline:
            raise DeadlineExceeded("model call deadline exceeded")

    def tokenize(self, text: str, *, bos: bool = False) -> list[int]:
        """Tokenize untrusted text: special-token syntax in it stays plain text (`special=False`)."""
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=bos, special=False))

    def tokenize_template(self, text: str) -> list[int]:
        """Tokenize trusted template text whose special tokens (`<|im_start|>`) must be recognized."""
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def rewind(self, n_past: int) -> None:
        """Forget everything after the first `n_past` tokens; the next `eval` continues from there."""
        if not 0 <= n_past <= self.n_past:
            raise ValueError("rewind target outside the evaluated prefix")
        self.llm.n_tokens = n_past

    def eval(self, tokens: Sequence[int]) -> None:
        """Append `tokens` to the context, `eval_chunk` at a time, checking bounds between chunks.

        Raises:
            ContextOverflow: the tokens do not fit (checked before any decode).
            CallCancelled, DeadlineExceeded: between chunks.
        """
        if self.n_past + len(tokens) > self.n_ctx:
            raise ContextOverflow(f"{self.n_past + len(tokens)} tokens exceed the context of {self.n_ctx}")
        for start in range(0, len(tokens), self.eval_chunk):
            self.check()
            self.llm.eval(tokens[start : start + self.eval_chunk])
            self.decode_calls += 1

    def last_logprobs(self) -> npt.NDArray[np.float32]:
        """Log-softmax of the logits after the last evaluated token (a copy)."""
        import llama_cpp

        n_vocab = int(self.llm.n_vocab())
        pointer = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        logits = np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(n_vocab,))
        row = logits.astype(np.float64)
        peak = float(row.max())
        log_z = peak + math.log(float(np.exp(row - peak).sum()))
        return (row - log_z).astype(np.float32)


def _return_freed_memory() -> None:
    """Hand the heap llama.cpp freed (KV cache, compute buffers) back to the OS, so an unloaded model stops
    counting in the daemon's RSS. glibc keeps freed arenas otherwise; elsewhere this is a no-op."""
    gc.collect()
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


class ModelRunner:
    """One llama.cpp model for the whole daemon. See the module docstring for ownership and bounds."""

    def __init__(self, config: RunnerConfig | None = None) -> None:
        self.config = config or RunnerConfig()
        self._lock = threading.Lock()
        self._llm: llama_cpp.Llama | None = None
        self._path: Path | None = None
        self._last_used = time.monotonic()
        self.last_load_seconds: float | None = None
        self.load_count = 0
        self.call_count = 0
        # Stop events of calls in flight: `close` sets them so a shutdown never waits out a long call.
        self._in_flight: set[threading.Event] = set()
        # Per-model memo for jobs (e.g. calibration scores); cleared on unload.
        self.memo: dict[Any, Any] = {}
        self._async_lock: Any = None  # trio.Lock, created lazily inside a trio run

    @property
    def model_path(self) -> Path:
        """The resolved model path (the embedded model unless configured)."""
        if self._path is None:
            configured = self.config.model_path
            self._path = (
                Path(configured).expanduser()
                if configured is not None
                else default_model_path(self.config.embedded, self.config.data_dir)
            )
        return self._path

    @property
    def pinned_sha256(self) -> str:
        """The pinned digest of an embedded model assembled from chunks ("" otherwise)."""
        if self.config.model_path is not None:
            return ""
        try:
            return embedded_models.lookup(self.config.embedded).sha256
        except embedded_models.EmbeddedModelError as exc:
            raise ModelError(str(exc)) from None

    @property
    def model_id(self) -> str:
        """A stable identifier for caches and manifests: the GGUF file name (never a user path)."""
        return self.model_path.name

    @property
    def is_loaded(self) -> bool:
        return self._llm is not None

    def _load_locked(self) -> llama_cpp.Llama:
        if self._llm is not None:
            return self._llm
        path = self.model_path
        if self.config.model_path is None:
            # the one integrity gate for embedded models: chunks and assembled file digest-checked first
            try:
                embedded_models.ensure_embedded(embedded_models.lookup(self.config.embedded), self.config.data_dir)
            except embedded_models.EmbeddedModelError as exc:
                raise ModelError(str(exc)) from None
        check_gguf(path)
        import llama_cpp

        started = time.perf_counter()
        try:
            llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=self.config.n_ctx,
                n_batch=self.config.n_batch,
                n_threads=self.config.n_threads,
                n_threads_batch=self.config.n_threads,
                seed=self.config.seed,
                logits_all=False,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"llama.cpp could not load the model file: {path}") from exc
        self.last_load_seconds = time.perf_counter() - started
        self.load_count += 1
        self._llm = llm
        return llm

    def load(self) -> float:
        """Load now (normally loading happens on first use). Returns the load time in seconds."""
        with self._lock:
            self._load_locked()
            self._last_used = time.monotonic()
        return float(self.last_load_seconds or 0.0)

    def _unload_locked(self) -> None:
        llm, self._llm = self._llm, None
        self.memo.clear()
        if llm is not None:
            llm.close()
            del llm
            _return_freed_memory()

    def unload(self) -> None:
        """Free the model now (waits for a running call to finish)."""
        with self._lock:
            self._unload_locked()

    def close(self) -> None:
        """Stop calls in flight (they fail with `CallCancelled` at their next check) and unload."""
        for stop in list(self._in_flight):
            stop.set()
        self.unload()

    def status(self) -> dict[str, Any]:
        """What `model.status` reports (no paths: the model is named by its file name)."""
        return {
            "backend": "llama.cpp",
            "model_id": self.model_id,
            "loaded": self.is_loaded,
            "load_count": self.load_count,
            "calls": self.call_count,
            "last_load_seconds": self.last_load_seconds,
            "idle_unload_seconds": self.config.idle_unload_s,
            "n_ctx": self.config.n_ctx,
            "n_threads": self.config.n_threads,
        }

    def unload_if_idle(self, now: float | None = None) -> bool:
        """Unload when idle for `idle_unload_s`; never waits for a running call. Returns True if it unloaded."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            idle = (time.monotonic() if now is None else now) - self._last_used
            if self._llm is None or idle < self.config.idle_unload_s:
                return False
            self._unload_locked()
            return True
        finally:
            self._lock.release()

    def call_sync(
        self,
        job: Callable[[Session], T],
        *,
        deadline_s: float = DEFAULT_DEADLINE_S,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        stop: threading.Event | None = None,
    ) -> T:
        """Run `job` with the model, blocking the calling thread. Loads the model if needed.

        The deadline counts from the moment the model lock is held (waiting for another call does not eat
        into it) and includes a load, if this call triggers one.
        """
        stop = stop or threading.Event()
        self._in_flight.add(stop)
        try:
            with self._lock:
                return self._call_locked(job, deadline_s=deadline_s, max_tokens=max_tokens, stop=stop)
        finally:
            self._in_flight.discard(stop)

    def _call_locked(
        self, job: Callable[[Session], T], *, deadline_s: float, max_tokens: int, stop: threading.Event
    ) -> T:
        deadline = time.monotonic() + deadline_s
        if stop.is_set():
            raise CallCancelled("model call cancelled")
        llm = self._load_locked()
        self.call_count += 1
        session = Session(
            llm=llm,
            stop=stop,
            deadline=deadline,
            max_tokens=max_tokens,
            eval_chunk=self.config.eval_chunk,
            model_id=self.model_id,
        )
        try:
            session.check()
            return job(session)
        finally:
            # A job may leave the context mid-way (error, cancel): the next job starts from an empty one.
            llm.n_tokens = 0
            self._last_used = time.monotonic()

    async def call(
        self,
        job: Callable[[Session], T],
        *,
        deadline_s: float = DEFAULT_DEADLINE_S,
        max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> T:
        """Run `job` in a worker thread without blocking the trio loop; cancellable by the caller's scope."""
        import trio

        if self._async_lock is None:
            self._async_lock = trio.Lock()
        stop = threading.Event()
        done = threading.Event()

        def work() -> T:
            try:
                return self.call_sync(job, deadline_s=deadline_s, max_tokens=max_tokens, stop=stop)
            finally:
                done.set()

        async with self._async_lock:
            try:
                return await trio.to_thread.run_sync(work, abandon_on_cancel=True)
            except trio.Cancelled:
                stop.set()
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(done.wait, CANCEL_GRACE_S)
                raise

    async def run_idle_unloader(self, poll_s: float | None = None) -> None:
        """Trio task for the daemon's nursery: unload the model after `idle_unload_s` without calls."""
        import trio

        interval = poll_s if poll_s is not None else max(0.05, min(30.0, self.config.idle_unload_s / 4))
        while True:
            await trio.sleep(interval)
            self.unload_if_idle()
