"""Keystroke-window encoder: prompt windows in, L2-normalised typing-rhythm embeddings out.

torch is imported lazily (inside :func:`_load_model`), so importing this module, or starting a daemon that
has not encoded anything yet, costs no torch import. The shipped weights live in ``weights/encoder.pt``
inside this package; they are checked against :data:`WEIGHTS_SHA256` before ``torch.load(...,
weights_only=True)`` ever parses them, so a swapped or corrupted file is refused rather than unpickled.

Resource handling: an :class:`Encoder` owns its model (a few hundred KB) for its lifetime; torch's thread
pool is process-wide and left alone unless ``threads`` is given.
Error handling: any problem with the weights file (missing, digest mismatch, unreadable, wrong shape) is
an :class:`EncoderWeightsError` naming the path and the fix; never a raw torch error.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from llmojid.daemon.keystrokes.baseline import Thresholds
from llmojid.daemon.keystrokes.features import Window, rhythm_events, windows_to_batch

if TYPE_CHECKING:
    from torch import nn

    from llmojid.daemon.keystrokes.tcn import TcnConfig

#: Where the trained weights ship (package data).
WEIGHTS_PATH = Path(__file__).with_name("weights") / "encoder.pt"
#: SHA-256 of the shipped weights file. Update together with the file (train.py prints the new value).
WEIGHTS_SHA256 = "cce636ac80d287006cb1dfc67fa2ae7864da2b91d57044d047e33f6c1b95152c"
#: Deviation thresholds of these weights, as ``evaluate.py`` prints them for the held-out Aalto users with 5
#: enrolment sentences: the cosine distance at the global EER point for one window, with and without
#: key-release times, and for the mean of 3 consecutive windows (the sustained decision). They belong to the
#: weights: retraining changes them.
DEVIATION_THRESHOLDS = Thresholds(
    with_release=0.3713, press_only=0.2668, sustained_with_release=0.3338, sustained_press_only=0.2511
)
#: Encode at most this many windows per forward pass (bounds peak memory for large batches).
MAX_BATCH = 256


class EncoderWeightsError(RuntimeError):
    """The encoder weights file is missing, does not match the expected digest, or cannot be loaded."""


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_weights(path: Path, expected_sha256: str) -> bytes:
    """The file's bytes, if ``path`` exists and hashes to ``expected_sha256``; else EncoderWeightsError.

    The bytes that were hashed are the bytes that get parsed (no second read a swapped file could slip into).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EncoderWeightsError(
            f"cannot read encoder weights at {path}: {exc.strerror}; reinstall llmojid "
            "or retrain with `python -m llmojid.daemon.keystrokes.train`"
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256.lower():
        raise EncoderWeightsError(
            f"encoder weights at {path} do not match the expected SHA-256 (got {digest[:16]}..., expected "
            f"{expected_sha256[:16]}...): the file was modified or replaced. Reinstall llmojid to restore "
            "the shipped weights, or, if you retrained on purpose, set WEIGHTS_SHA256 in "
            "llmojid/daemon/keystrokes/encoder.py to the digest train.py printed."
        )
    return data


def _load_model(path: Path, expected_sha256: str) -> tuple[nn.Module, TcnConfig]:
    """Verify, then load a checkpoint ``{"config": dict, "state_dict": dict}`` into a model in eval mode."""
    data = verify_weights(path, expected_sha256)
    import torch  # lazy: the daemon pays for torch only when it first encodes

    from llmojid.daemon.keystrokes.tcn import TcnConfig, build_model

    try:
        checkpoint: dict[str, Any] = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        config = TcnConfig.from_dict(checkpoint["config"])
        model = build_model(config)
        model.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError, EOFError) as exc:
        raise EncoderWeightsError(
            f"encoder weights at {path} passed the digest check but could not be loaded "
            f"({type(exc).__name__}); the code and the weights disagree: retrain or reinstall"
        ) from exc
    model.eval()
    return model, config


def _frozen_graph(model: nn.Module) -> Any:
    """The model traced and frozen into one TorchScript graph, or the model itself if that fails.

    Why: the TCN is ~90 small tensor operations; run eagerly, Python dispatch costs more than the arithmetic
    (0.43 ms of a 0.7 ms one-window encode, measured). The frozen graph runs the same operations without
    it (0.2 ms) and gives bit-identical embeddings; the trace is checked on a second input of another shape
    before it is used, so a trace that baked in a shape is never used.
    """
    import warnings

    import torch

    from llmojid.daemon.keystrokes.features import N_FEATURES

    def probe(batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(batch * 1000 + length)
        mask = torch.ones(batch, length, dtype=torch.bool)
        mask[0, length // 2 :] = False
        return torch.randn(batch, length, N_FEATURES, generator=g), mask

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch >= 2.9 marks jit as deprecated; it still works
            with torch.inference_mode():
                graph = torch.jit.freeze(torch.jit.trace(model, probe(2, 40)))  # type: ignore[no-untyped-call]
                check = probe(3, 71)
                if not torch.equal(graph(*check), model(*check)):
                    return model
    except Exception:  # any tracing problem: the eager model is always correct
        return model
    return graph


class Encoder:
    """Embeds prompt windows (sequences of key events) with the trained TCN.

    Args:
        weights: checkpoint path (default: the shipped weights).
        expected_sha256: digest the file must have (default: :data:`WEIGHTS_SHA256`).
        threads: if given, set torch's (process-wide) intra-op thread count.
    """

    def __init__(
        self,
        weights: Path | None = None,
        expected_sha256: str = WEIGHTS_SHA256,
        threads: int | None = None,
    ) -> None:
        self.path = weights if weights is not None else WEIGHTS_PATH
        self.model, self.config = _load_model(self.path, expected_sha256)
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        self._forward = _frozen_graph(self.model)

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return self.config.output_dim

    def encode(self, windows: Sequence[Window]) -> npt.NDArray[np.float32]:
        """(len(windows), dim) float32 unit-norm embeddings, one per window, in order.

        Each window is reduced to its :func:`features.rhythm_events` first (no PASTE events, no closing
        ENTER), so a prompt window from the daemon and a sentence from the training data look alike.
        """
        import torch

        out = np.zeros((len(windows), self.dim), dtype=np.float32)
        rhythm = [rhythm_events(w) for w in windows]
        # sort by length so each chunk pads little
        order = sorted(range(len(rhythm)), key=lambda i: len(rhythm[i]))
        with torch.inference_mode():
            for start in range(0, len(order), MAX_BATCH):
                idx = order[start : start + MAX_BATCH]
                x, mask = windows_to_batch([rhythm[i] for i in idx])
                z = self._forward(torch.from_numpy(x), torch.from_numpy(mask))
                out[idx] = z.numpy()
        return out
