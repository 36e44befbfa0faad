"""The daemon's local model: the llama.cpp runner and the lexicon synthesis built on it (spec section 4).

Modules: `prompt` (pure: sample choice, masking, sanitizing, prompt text), `chat` (chat-format wrapping),
`runner` (one model, serialized, bounded, cancellable), `scoring` (default method), `generation` (grammar
method), `synthesis` (one cell: `synthesize_cell`), `openai_backend` + `backends` (what a cell is synthesized
with), `settings` (from the project config), `cells` + `cache` (journal reads, the sealed per-cell cache),
`component` (the daemon's `analyze`, `analyze.plan` and `model.status` requests).
"""
