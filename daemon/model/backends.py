"""What `analyze` synthesizes with: the daemon's own llama.cpp model, or an OpenAI-compatible endpoint.

Both expose the same small surface (`Synthesizer`), so the analyze job, the cache key and the progress events do
not care which one runs. Each names itself for the cache and the bundle manifest (`backend`, `model_id`) and
says what else identifies it (`fingerprint`: the GGUF's size, or the endpoint URL), which only enters the cache's
keyed hash.

Errors a cell can fail with (and the job goes on): `DeadlineExceeded`, `ContextOverflow`, `SynthesisError`.
Errors that stop the job: `ModelError` (the model file), `BackendError` (the endpoint), `CallCancelled`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from llmojid.common.lexicon import Bag
from llmojid.daemon.model.generation import INSTRUCTION
from llmojid.daemon.model.openai_backend import (
    BACKEND_NAME as OPENAI_BACKEND,
)
from llmojid.daemon.model.openai_backend import (
    BackendAnswerError,
    OpenAICompatClient,
)
from llmojid.daemon.model.prompt import PromptSample, render_prompt
from llmojid.daemon.model.runner import DeadlineExceeded, ModelRunner, check_gguf
from llmojid.daemon.model.scoring import SCORING_RULE
from llmojid.daemon.model.synthesis import Method, SynthesisError, synthesize_cell_async

LOCAL_BACKEND = "llama.cpp"


class Synthesizer(Protocol):
    backend: str
    methods: tuple[Method, ...]

    @property
    def model_id(self) -> str: ...

    def fingerprint(self) -> str: ...

    async def synthesize(
        self, method: Method, samples: Sequence[PromptSample], *, deadline_s: float, max_tokens: int, face: str = ""
    ) -> Bag: ...

    def status(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class LocalSynthesizer:
    """The daemon's llama.cpp model (`ModelRunner`): both methods."""

    backend = LOCAL_BACKEND
    methods: tuple[Method, ...] = (Method.SCORING, Method.GENERATION)

    def __init__(self, runner: ModelRunner) -> None:
        self.runner = runner

    @property
    def model_id(self) -> str:
        return self.runner.model_id

    def fingerprint(self) -> str:
        """The GGUF's size: a re-quantized file under the same name misses the cache. Checks the file first.
        The scoring rule is part of it, so bags of an older rule are made again.
        An embedded model assembled from chunks is named by its pinned digest (the file may not exist yet: it is
        assembled and checked on first load).

        Raises:
            ModelError: missing, unreadable or not a GGUF (naming the path).
        """
        pinned = self.runner.pinned_sha256
        if pinned:
            return f"sha256={pinned[:16]};{SCORING_RULE}"
        path = self.runner.model_path
        check_gguf(path)
        return f"size={path.stat().st_size};{SCORING_RULE}"

    async def synthesize(
        self, method: Method, samples: Sequence[PromptSample], *, deadline_s: float, max_tokens: int, face: str = ""
    ) -> Bag:
        return await synthesize_cell_async(
            self.runner, method, samples, deadline_s=deadline_s, max_tokens=max_tokens, face=face
        )

    def status(self) -> dict[str, Any]:
        return self.runner.status()

    def close(self) -> None:
        self.runner.close()


class RemoteSynthesizer:
    """An OpenAI-compatible endpoint: generation only (a JSON answer constrained by a schema, then validated)."""

    backend = OPENAI_BACKEND
    methods: tuple[Method, ...] = (Method.GENERATION,)

    def __init__(self, client: OpenAICompatClient) -> None:
        self.client = client

    @property
    def model_id(self) -> str:
        return self.client.model

    def fingerprint(self) -> str:
        return self.client.endpoint.display

    async def synthesize(
        self, method: Method, samples: Sequence[PromptSample], *, deadline_s: float, max_tokens: int, face: str = ""
    ) -> Bag:
        import trio

        if method not in self.methods:
            raise SynthesisError("this backend supports only the generation method")
        prompt = render_prompt(samples) + INSTRUCTION

        def work() -> Bag:
            return self.client.call_sync(prompt, deadline_s=deadline_s, max_tokens=max_tokens)

        try:
            return await trio.to_thread.run_sync(work, abandon_on_cancel=True)
        except trio.Cancelled:
            self.client.cancel()
            raise
        except TimeoutError:
            raise DeadlineExceeded("backend call deadline exceeded") from None
        except BackendAnswerError as exc:
            raise SynthesisError(str(exc)) from None

    def status(self) -> dict[str, Any]:
        return {"backend": self.backend, "model_id": self.model_id, "calls": self.client.calls, "loaded": False}

    def close(self) -> None:
        self.client.cancel()
