"""The TCN encoder: shipped weights verified by digest, tampering refused before parsing, torch loaded lazily,
the model causal, embeddings unit-norm and deterministic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmojid.daemon.keystrokes import encoder as enc
from llmojid.daemon.keystrokes.features import KeyClass, KeyEvent, windows_to_batch


def rhythm(seed: int, n: int = 40, flight: float = 150.0, releases: bool = True) -> list[KeyEvent]:
    rng = np.random.default_rng(seed)
    t, out = 0.0, []
    for i in range(n):
        t += float(rng.lognormal(np.log(flight), 0.4)) if i else 0.0
        cls = KeyClass.SPACE if i % 6 == 5 else KeyClass.CHAR
        out.append(KeyEvent(t, t + float(rng.uniform(60, 120)) if releases else None, int(cls)))
    return out


def test_shipped_weights_match_the_digest_in_the_code() -> None:
    assert enc.WEIGHTS_PATH.is_file(), "the trained weights must ship inside the package"
    assert enc.file_sha256(enc.WEIGHTS_PATH) == enc.WEIGHTS_SHA256
    assert enc.WEIGHTS_PATH.stat().st_size < 1_000_000  # small enough to ship in the wheel


def test_tampered_weights_fail_with_a_clear_error_before_torch_parses_them(tmp_path: Path) -> None:
    tampered = tmp_path / "encoder.pt"
    data = bytearray(enc.WEIGHTS_PATH.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    # In a fresh interpreter: the digest check refuses the file, and torch was never imported for it.
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from llmojid.daemon.keystrokes.encoder import Encoder, EncoderWeightsError\n"
        f"try:\n    Encoder(Path({str(tampered)!r}))\n"
        "except EncoderWeightsError as exc:\n    print('REFUSED', exc)\n"
        "print('TORCH', 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "REFUSED" in out and "do not match the expected SHA-256" in out and "Reinstall llmojid" in out
    assert "TORCH False" in out


def test_missing_weights_fail_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(enc.EncoderWeightsError, match="cannot read encoder weights"):
        enc.verify_weights(tmp_path / "absent.pt", enc.WEIGHTS_SHA256)


def test_weights_that_pass_the_digest_but_do_not_fit_the_code_fail_clearly(tmp_path: Path) -> None:
    import torch

    bad = tmp_path / "bad.pt"
    torch.save({"config": {"channels": 8}, "state_dict": {}}, bad)
    with pytest.raises(enc.EncoderWeightsError, match="could not be loaded"):
        enc.Encoder(bad, enc.file_sha256(bad))


def test_importing_the_typing_component_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import llmojid.daemon.keystrokes.state, llmojid.daemon.keystrokes.encoder, llmojid.client.wrap\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


def test_embeddings_are_unit_norm_deterministic_and_order_independent() -> None:
    e = enc.Encoder(threads=1)
    windows = [rhythm(1), rhythm(2, n=15), rhythm(3, n=120, releases=False)]
    z = e.encode(windows)
    assert z.shape == (3, e.dim) and z.dtype == np.float32
    assert np.allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    assert np.allclose(e.encode(windows[::-1])[::-1], z, atol=1e-5)
    assert np.allclose(e.encode([windows[1]])[0], z[1], atol=1e-5)  # padding in a batch changes nothing


def test_the_frozen_graph_gives_the_eager_models_embeddings_for_any_shape() -> None:
    import torch

    e = enc.Encoder(threads=1)
    assert isinstance(e._forward, torch.jit.ScriptModule)  # the fast path is in use, not the fallback
    for windows in ([rhythm(5, n=13)], [rhythm(6, n=300), rhythm(7, n=30, releases=False)], [rhythm(8)] * 5):
        x, mask = windows_to_batch(windows)
        with torch.inference_mode():
            fast = e._forward(torch.from_numpy(x), torch.from_numpy(mask))
            eager = e.model(torch.from_numpy(x), torch.from_numpy(mask))
        assert torch.equal(fast, eager)


def test_the_closing_enter_and_pastes_do_not_change_the_embedding() -> None:
    e = enc.Encoder(threads=1)
    base = rhythm(4)
    end = base[-1].press_ms
    closed = [*base[:10], KeyEvent(base[9].press_ms + 1, None, int(KeyClass.PASTE)), *base[10:]]
    closed.append(KeyEvent(end + 200.0, None, int(KeyClass.ENTER)))
    z = e.encode([base, closed])
    assert np.allclose(z[0], z[1], atol=1e-5)


def members(e: enc.Encoder) -> list[Any]:
    """The shipped model's TCNs (an ensemble holds several, a single TCN is its own one member)."""
    return list(getattr(e.model, "members", [e.model]))


def test_the_tcn_is_causal() -> None:
    import torch

    e = enc.Encoder(threads=1)
    window = rhythm(5, n=60)
    x, _ = windows_to_batch([window])
    for member in members(e):
        with torch.inference_mode():
            full = member.sequence(torch.from_numpy(x))
            prefix = member.sequence(torch.from_numpy(x[:, :25]))
            changed = x.copy()
            changed[:, 40:] += 1.0  # the future changes ...
            again = member.sequence(torch.from_numpy(changed))
        assert torch.allclose(full[:, :25], prefix, atol=1e-5)
        assert torch.allclose(full[:, :40], again[:, :40], atol=1e-5)  # ... the past does not
        assert not torch.allclose(full[:, 40:], again[:, 40:])


def test_the_ensembles_cosine_is_the_mean_of_its_members_cosines() -> None:
    """Why an ensemble keeps the deviation's meaning: distance to a centroid is the members' distances averaged."""
    import torch

    e = enc.Encoder(threads=1)
    assert e.config.members == len(members(e)) == 3 and e.dim == 3 * e.config.embedding_dim
    x, mask = windows_to_batch([rhythm(30), rhythm(31, flight=300.0, releases=False)])
    with torch.inference_mode():
        whole = e.model(torch.from_numpy(x), torch.from_numpy(mask)).numpy()
        parts = [m(torch.from_numpy(x), torch.from_numpy(mask)).numpy() for m in members(e)]
    assert float(whole[0] @ whole[1]) == pytest.approx(float(np.mean([p[0] @ p[1] for p in parts])), abs=1e-5)


def test_a_single_tcn_checkpoint_of_the_previous_format_still_loads(tmp_path: Path) -> None:
    """v2 checkpoints name no ``members``: they load as one TCN with its own embedding size."""
    import torch

    first = members(enc.Encoder(threads=1))[0]
    config = first.config.to_dict()
    del config["members"]
    path = tmp_path / "single.pt"
    torch.save({"config": config, "state_dict": first.state_dict()}, path)
    single = enc.Encoder(path, enc.file_sha256(path), threads=1)
    assert single.dim == first.config.embedding_dim and single.config.members == 1
    z = single.encode([rhythm(40)])
    assert np.allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)


def test_the_encoder_tells_two_very_different_typists_apart() -> None:
    e = enc.Encoder(threads=1)
    fast = e.encode([rhythm(s, flight=110.0) for s in range(10, 16)])
    slow = e.encode([rhythm(s, flight=420.0) for s in range(20, 26)])
    centroid = fast[:5].mean(0)
    centroid /= np.linalg.norm(centroid)
    same = 1 - float(fast[5] @ centroid)
    other = 1 - slow @ centroid
    assert same < float(other.min())
