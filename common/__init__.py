"""Pure logic both sides use (taxonomy, lexicon, sanitizer, config). No I/O, no daemon imports."""
