"""The bundle's layout (spec ``kaomoji-and-bundle.md`` section 5): slugs, rows, manifest, and their validation.

Pure: no I/O, no clock, no keyring. ``render`` turns the aggregates the daemon read into the files' bytes, and the
same inputs give the same bytes: rows are sorted by canonical face, JSON is written with fixed key order and
separators, and ``generated_at`` is an input (the builder passes the time of the newest journal row the bundle
covers, as reproducible builds use ``SOURCE_DATE_EPOCH``, so that rebuilding an unchanged journal changes nothing).

``validate`` is the other direction: given a folder's entries it lists every way they break the layout (a foreign
or nested entry, a schema error, a face that is not canonical, a word outside the lexicon, personal data in the
notes). The builder runs it on its own output before writing, the auditor runs it on the folder on disk.

A bundle holds no journal text, path or user name: a row is a face, a count and lexicon words; the manifest names
models, harnesses and versions, and the only free-form text is the user's own ``notes``, which pass through the
sanitizer first.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from llmojid.common.lexicon import LEXICON_VERSION, Bag, LexiconError, validate_bag
from llmojid.common.sanitizer import find_pii
from llmojid.common.taxonomy import MAX_FACE_LEN, canonicalize

MANIFEST: Final = "manifest.json"
ROWS_SUFFIX: Final = ".jsonl"
UNKNOWN_SLUG: Final = "unknown"
#: ``generated_at`` format, as the spec writes it.
TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
_TIME_RE: Final = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
_SUBMITTER_RE: Final = re.compile(r"\A[0-9a-f]{32}\Z")
#: The notes are the user's own words; a cap keeps the manifest a manifest.
MAX_NOTES_CHARS: Final = 2000
#: Salt of ``submitter_id`` (a domain separator: the secret is used for nothing else, but stays unmistakable).
SUBMITTER_SALT: Final = b"llmojid submitter_id v1\x00"
MANIFEST_KEYS: Final = (
    "llmoji_version",
    "lexicon_version",
    "synthesis_model_id",
    "synthesis_backend",
    "submitter_id",
    "generated_at",
    "providers_seen",
    "model_counts",
    "total_synthesized_rows",
    "notes",
)
ROW_KEYS: Final = ("kaomoji", "count", "synthesis")


class BundleError(ValueError):
    """The inputs cannot make a valid bundle (two models share a slug, a bad face ...). Names no journal text."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One synthesized face of one source model, with how many journal rows it leads."""

    source_model: str
    canonical: str
    count: int
    bag: Bag


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything a bundle is made of. ``generated_at`` is already formatted (``TIME_FORMAT``)."""

    cells: tuple[Cell, ...]
    producer_version: str
    synthesis_model_id: str
    synthesis_backend: str
    submitter_id: str
    generated_at: str
    providers_seen: tuple[str, ...]
    notes: str = ""


def slug(model: str) -> str:
    """A source model's file stem: lower case, ``/`` -> ``__``, ``:`` -> ``-``, empty -> ``unknown``."""
    out = model.lower().replace("/", "__").replace(":", "-")
    return out or UNKNOWN_SLUG


def submitter_id(secret: bytes, version: str) -> str:
    """32 hex characters: a salted, keyed hash of the per-install secret and the producing version.

    The secret never leaves the machine and is never derived from an account name; a new version gives a new id
    (the spec ties the id to the version), so ids link one install's bundles only within a version.
    """
    if len(secret) < 16:
        raise BundleError("the submitter secret is too short")
    return hmac.new(secret, SUBMITTER_SALT + version.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def dumps_row(row: Mapping[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(", ", ": "))


def dumps_manifest(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"


def render(inputs: Inputs) -> dict[str, bytes]:
    """The bundle's files (name -> bytes). Raises BundleError for inputs that cannot make a valid bundle."""
    by_slug: dict[str, list[Cell]] = {}
    model_of: dict[str, str] = {}
    for cell in inputs.cells:
        if cell.count < 1:
            raise BundleError("a cell must count at least one journal row")
        if canonicalize(cell.canonical) != cell.canonical or not cell.canonical:
            raise BundleError("a cell's face is not in canonical form")
        stem = slug(cell.source_model)
        other = model_of.setdefault(stem, cell.source_model)
        if other != cell.source_model:
            raise BundleError(f"two source models map to the file name {stem}{ROWS_SUFFIX}")
        by_slug.setdefault(stem, []).append(cell)
    files: dict[str, bytes] = {}
    model_counts: dict[str, int] = {}
    for stem in sorted(by_slug):
        cells = sorted(by_slug[stem], key=lambda c: c.canonical)
        faces = [c.canonical for c in cells]
        if len(set(faces)) != len(faces):
            raise BundleError(f"a face appears twice in {stem}{ROWS_SUFFIX}")
        lines = [
            dumps_row({"kaomoji": c.canonical, "count": c.count, "synthesis": c.bag.to_dict()}) + "\n" for c in cells
        ]
        files[stem + ROWS_SUFFIX] = "".join(lines).encode("utf-8")
        model_counts[model_of[stem]] = sum(c.count for c in cells)
    manifest = {
        "llmoji_version": inputs.producer_version,
        "lexicon_version": LEXICON_VERSION,
        "synthesis_model_id": inputs.synthesis_model_id,
        "synthesis_backend": inputs.synthesis_backend,
        "submitter_id": inputs.submitter_id,
        "generated_at": inputs.generated_at,
        "providers_seen": sorted(set(inputs.providers_seen)),
        "model_counts": dict(sorted(model_counts.items())),
        "total_synthesized_rows": sum(model_counts.values()),
        "notes": inputs.notes,
    }
    files[MANIFEST] = dumps_manifest(manifest).encode("utf-8")
    problems = validate(files)
    if problems:
        raise BundleError("the bundle would not be valid: " + "; ".join(problems))
    return files


# --- validation ---------------------------------------------------------------------------------------------------
def allowed_name(name: str) -> bool:
    """Only ``manifest.json`` and ``<slug>.jsonl`` belong in the folder (no hidden files, no separators)."""
    if name == MANIFEST:
        return True
    stem = name[: -len(ROWS_SUFFIX)] if name.endswith(ROWS_SUFFIX) else ""
    return bool(stem) and not stem.startswith(".") and "/" not in stem and "\\" not in stem and stem == stem.lower()


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _pii_types(text: str) -> list[str]:
    return sorted({f.type for f in find_pii(text)})


#: Token prefixes that make a name a credential whatever the sanitizer's entropy rule says.
_SECRET_PREFIXES: Final = ("sk-", "ghp_", "gho_", "ghs_", "github_pat_", "xox", "AKIA", "eyJ", "hf_", "glpat-")


def name_pii_types(name: str) -> list[str]:
    """Personal data in a model, file or harness name. Model file names look random to an entropy rule
    (``Qwen2.5-Coder-32B-Instruct-GGUF``), so a SECRET finding counts only when the name has a credential's
    prefix; every other type counts as usual."""
    found = {f.type for f in find_pii(name)}
    if "SECRET" in found and not any(prefix in name for prefix in _SECRET_PREFIXES):
        found.discard("SECRET")
    return sorted(found)


def validate_manifest(data: bytes) -> tuple[list[str], dict[str, Any] | None]:
    """Problems with ``manifest.json`` (and the decoded manifest, when it decodes to an object)."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return [f"{MANIFEST} is not valid UTF-8 JSON"], None
    if not isinstance(manifest, dict):
        return [f"{MANIFEST} is not a JSON object"], None
    problems: list[str] = []
    keys = set(manifest)
    if keys != set(MANIFEST_KEYS):
        missing, extra = sorted(set(MANIFEST_KEYS) - keys), sorted(keys - set(MANIFEST_KEYS))
        problems.append(f"{MANIFEST} keys differ from the spec (missing {missing}, unexpected {len(extra)})")
    m = manifest
    for key in ("llmoji_version", "synthesis_model_id", "synthesis_backend", "notes"):
        if key in m and not isinstance(m[key], str):
            problems.append(f"{MANIFEST}: {key} must be a string")
    if m.get("lexicon_version") != LEXICON_VERSION:
        problems.append(f"{MANIFEST}: lexicon_version must be {LEXICON_VERSION}")
    if not (isinstance(m.get("submitter_id"), str) and _SUBMITTER_RE.match(m["submitter_id"])):
        problems.append(f"{MANIFEST}: submitter_id must be 32 lower-case hex characters")
    if not (isinstance(m.get("generated_at"), str) and _TIME_RE.match(m["generated_at"])):
        problems.append(f"{MANIFEST}: generated_at must be UTC in {TIME_FORMAT}")
    if not _is_str_list(m.get("providers_seen")):
        problems.append(f"{MANIFEST}: providers_seen must be a list of strings")
    counts = m.get("model_counts")
    if not (
        isinstance(counts, dict)
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in counts.values())
    ):
        problems.append(f"{MANIFEST}: model_counts must map model names to positive counts")
    total = m.get("total_synthesized_rows")
    if not (isinstance(total, int) and not isinstance(total, bool)) or (
        isinstance(counts, dict) and total != sum(v for v in counts.values() if isinstance(v, int))
    ):
        problems.append(f"{MANIFEST}: total_synthesized_rows must be the sum of model_counts")
    notes = m.get("notes")
    if isinstance(notes, str):
        if len(notes) > MAX_NOTES_CHARS:
            problems.append(f"{MANIFEST}: notes exceed {MAX_NOTES_CHARS} characters")
        found = _pii_types(notes)
        if found:
            problems.append(f"{MANIFEST}: notes hold personal data ({', '.join(found)})")
    for key in ("llmoji_version", "synthesis_model_id", "synthesis_backend"):
        value = m.get(key)
        if isinstance(value, str) and (len(value) > 200 or name_pii_types(value)):
            problems.append(f"{MANIFEST}: {key} is too long or holds personal data")
    names: list[object] = []
    if isinstance(counts, dict):
        names.extend(counts)
    if _is_str_list(m.get("providers_seen")):
        names.extend(m["providers_seen"])
    for name in names:
        if isinstance(name, str) and (len(name) > 200 or name_pii_types(name)):
            problems.append(f"{MANIFEST}: a model or provider name is too long or holds personal data")
            break
    return problems, manifest


def validate_rows(name: str, data: bytes) -> list[str]:
    """Problems with one ``<slug>.jsonl`` file (line numbers are given; content never is)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [f"{name} is not valid UTF-8"]
    if text and not text.endswith("\n"):
        return [f"{name} does not end with a newline"]
    problems: list[str] = []
    faces: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{name} line {number}"
        try:
            row = json.loads(line)
        except ValueError:
            problems.append(f"{where} is not JSON")
            continue
        if not isinstance(row, dict) or list(row) != list(ROW_KEYS):
            problems.append(f"{where} must be an object with exactly the keys {', '.join(ROW_KEYS)}")
            continue
        face, count = row["kaomoji"], row["count"]
        if not isinstance(face, str) or not face or len(face) > MAX_FACE_LEN or canonicalize(face) != face:
            problems.append(f"{where}: kaomoji must be a canonical face of at most {MAX_FACE_LEN} characters")
        elif _pii_types(face):
            problems.append(f"{where}: kaomoji holds personal data")
        else:
            faces.append(face)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            problems.append(f"{where}: count must be a positive integer")
        try:
            validate_bag(row["synthesis"])
        except LexiconError as exc:
            problems.append(f"{where}: synthesis: {exc}")
    if faces != sorted(faces) or len(set(faces)) != len(faces):
        problems.append(f"{name}: rows must be sorted by face, each face once")
    return problems


def validate(files: Mapping[str, bytes]) -> list[str]:
    """Every way these folder entries (name -> bytes) break the layout; empty when the bundle is valid."""
    problems: list[str] = []
    for name in sorted(files):
        if not allowed_name(name):
            problems.append(f"foreign file {name!r} (only {MANIFEST} and <slug>{ROWS_SUFFIX} belong in a bundle)")
    if MANIFEST not in files:
        problems.append(f"{MANIFEST} is missing")
        manifest = None
    else:
        found, manifest = validate_manifest(files[MANIFEST])
        problems += found
    row_files = sorted(n for n in files if n != MANIFEST and allowed_name(n))
    for name in row_files:
        problems += validate_rows(name, files[name])
    if manifest is not None and isinstance(manifest.get("model_counts"), dict):
        expected: dict[str, str] = {}
        for model in manifest["model_counts"]:
            stem = slug(str(model))
            if stem in expected:
                problems.append(f"two models in {MANIFEST} map to {stem}{ROWS_SUFFIX}")
            expected[stem] = str(model)
        present = {n[: -len(ROWS_SUFFIX)] for n in row_files}
        for stem in sorted(set(expected) - present):
            problems.append(f"{stem}{ROWS_SUFFIX} is missing (its model is in {MANIFEST})")
        for stem in sorted(present - set(expected)):
            problems.append(f"{stem}{ROWS_SUFFIX} has no model in {MANIFEST}")
        for stem in sorted(present & set(expected)):
            total = _row_total(files[stem + ROWS_SUFFIX])
            if total is not None and total != manifest["model_counts"][expected[stem]]:
                problems.append(f"{stem}{ROWS_SUFFIX}: counts do not add up to its model_counts entry")
    return problems


def _row_total(data: bytes) -> int | None:
    try:
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]
        return sum(int(r["count"]) for r in rows)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None


def preview(files: Mapping[str, bytes]) -> dict[str, Any]:
    """The bundle decoded for ``bundle show``: the manifest and, per file, its rows (face by face)."""
    manifest = json.loads(files[MANIFEST].decode("utf-8")) if MANIFEST in files else {}
    rows = {
        name: [json.loads(line) for line in files[name].decode("utf-8").splitlines()]
        for name in sorted(files)
        if name != MANIFEST and allowed_name(name)
    }
    return {"manifest": manifest, "files": rows}


def cells_from(cached: Iterable[tuple[str, str, Bag]], counts: Mapping[tuple[str, str], int]) -> tuple[Cell, ...]:
    """Join cached bags (source model, face, bag) with journal counts; faces no longer in the journal drop out."""
    out = []
    for model, face, bag in cached:
        n = counts.get((model, face), 0)
        if n > 0:
            out.append(Cell(model, face, n, bag))
    return tuple(sorted(out, key=lambda c: (c.source_model, c.canonical)))
