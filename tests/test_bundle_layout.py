"""The bundle's pure layout (spec section 5): slugs, rows, manifest, byte-identical output, validation."""

from __future__ import annotations

import json

import pytest

from llmojid.common.lexicon import validate_bag
from llmojid.daemon.privacy import bundle as b

BAG = validate_bag(
    {"primary_affect": ["cheery", "excited"], "stance_modality_function": ["helpful", "eager", "confident"]}
)
BAG2 = validate_bag({"primary_affect": ["weary"], "stance_modality_function": ["apologetic", "cautious", "serious"]})


def inputs(cells: tuple[b.Cell, ...] | None = None, notes: str = "") -> b.Inputs:
    return b.Inputs(
        cells=cells
        or (
            b.Cell("claude-opus-4", "(◕‿◕)", 12, BAG),
            b.Cell("claude-opus-4", "(>_<)", 3, BAG2),
            b.Cell("openai/gpt-5:high", "(;ω;)", 2, BAG2),
        ),
        producer_version="llmojid/0.1.0",
        synthesis_model_id="SmolLM2-135M-Instruct-Q8_0.gguf",
        synthesis_backend="llama.cpp",
        submitter_id=b.submitter_id(b"s" * 32, "llmojid/0.1.0"),
        generated_at="2026-11-02T10:00:00Z",
        providers_seen=("codex", "claude-code", "codex"),
        notes=notes,
    )


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("Claude-Opus-4", "claude-opus-4"),
        ("openai/gpt-5:high", "openai__gpt-5-high"),
        ("", "unknown"),
        ("a/b/c", "a__b__c"),
    ],
)
def test_slug(model: str, expected: str) -> None:
    assert b.slug(model) == expected


def test_render_layout_rows_and_manifest() -> None:
    files = b.render(inputs(notes="first bundle"))
    assert sorted(files) == ["claude-opus-4.jsonl", "manifest.json", "openai__gpt-5-high.jsonl"]
    rows = [json.loads(line) for line in files["claude-opus-4.jsonl"].decode().splitlines()]
    assert [r["kaomoji"] for r in rows] == sorted(["(◕‿◕)", "(>_<)"])
    assert all(list(r) == ["kaomoji", "count", "synthesis"] for r in rows)
    assert rows[0] == {"kaomoji": "(>_<)", "count": 3, "synthesis": BAG2.to_dict()}
    manifest = json.loads(files["manifest.json"])
    assert list(manifest) == list(b.MANIFEST_KEYS)
    assert manifest["model_counts"] == {"claude-opus-4": 15, "openai/gpt-5:high": 2}
    assert manifest["total_synthesized_rows"] == 17
    assert manifest["providers_seen"] == ["claude-code", "codex"]
    assert manifest["lexicon_version"] == 2 and manifest["notes"] == "first bundle"
    assert b.validate(files) == []


def test_render_is_byte_identical_and_order_independent() -> None:
    one = b.render(inputs())
    shuffled = inputs(cells=tuple(reversed(inputs().cells)))
    assert b.render(shuffled) == one
    assert b.render(inputs()) == one


def test_two_models_one_slug_is_an_error() -> None:
    cells = (b.Cell("GPT-5", "(◕‿◕)", 1, BAG), b.Cell("gpt-5", "(>_<)", 1, BAG))
    with pytest.raises(b.BundleError, match=r"gpt-5\.jsonl"):
        b.render(inputs(cells=cells))


def test_non_canonical_face_is_refused() -> None:
    with pytest.raises(b.BundleError, match="canonical"):
        b.render(inputs(cells=(b.Cell("m", "ヽ(´ー｀)ノ", 1, BAG),)))


def test_submitter_id_is_32_hex_and_depends_on_secret_and_version() -> None:
    one = b.submitter_id(b"x" * 32, "llmojid/0.1.0")
    assert len(one) == 32 and int(one, 16) >= 0
    assert one == b.submitter_id(b"x" * 32, "llmojid/0.1.0")
    assert one != b.submitter_id(b"y" * 32, "llmojid/0.1.0")
    assert one != b.submitter_id(b"x" * 32, "llmojid/0.2.0")
    with pytest.raises(b.BundleError):
        b.submitter_id(b"short", "v")


def test_validate_finds_each_fault() -> None:
    good = b.render(inputs())
    assert any("foreign file" in x for x in b.validate({**good, "notes.txt": b"hi"}))
    assert any("foreign file" in x for x in b.validate({**good, ".hidden.jsonl": b""}))
    assert any(
        "manifest.json is missing" in x for x in b.validate({k: v for k, v in good.items() if k != "manifest.json"})
    )
    manifest = json.loads(good["manifest.json"])
    for key, value, needle in [
        ("submitter_id", "alice", "submitter_id"),
        ("generated_at", "2026-11-02 10:00", "generated_at"),
        ("lexicon_version", 1, "lexicon_version"),
        ("total_synthesized_rows", 99, "total_synthesized_rows"),
        ("notes", "mail me at alice.smith@example.com", "personal data"),
    ]:
        bad = {**good, "manifest.json": b.dumps_manifest({**manifest, key: value}).encode()}
        assert any(needle in x for x in b.validate(bad)), key
    extra = {**good, "manifest.json": b.dumps_manifest({**manifest, "user": "alice"}).encode()}
    assert any("keys differ" in x for x in b.validate(extra))
    rows = good["claude-opus-4.jsonl"].decode().splitlines()
    prose = json.dumps({"kaomoji": "(◕‿◕)", "count": 1, "synthesis": BAG.to_dict(), "text": "hello"})
    assert any("exactly the keys" in x for x in b.validate({**good, "claude-opus-4.jsonl": (prose + "\n").encode()}))
    unsorted = "\n".join(reversed(rows)) + "\n"
    assert any("sorted" in x for x in b.validate({**good, "claude-opus-4.jsonl": unsorted.encode()}))
    word = rows[0].replace("apologetic", "sarcastic")
    assert any(
        "lexicon" in x for x in b.validate({**good, "claude-opus-4.jsonl": (word + "\n" + rows[1] + "\n").encode()})
    )
    assert any("has no model" in x for x in b.validate({**good, "stray.jsonl": b""}))


def test_preview_and_cells_from() -> None:
    files = b.render(inputs())
    shown = b.preview(files)
    assert shown["manifest"]["synthesis_backend"] == "llama.cpp"
    assert [r["kaomoji"] for r in shown["files"]["claude-opus-4.jsonl"]] == ["(>_<)", "(◕‿◕)"]
    cells = b.cells_from([("m", "(◕‿◕)", BAG), ("m", "(>_<)", BAG2)], {("m", "(◕‿◕)"): 4})
    assert cells == (b.Cell("m", "(◕‿◕)", 4, BAG),)
