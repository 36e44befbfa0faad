"""The daemon: serving, store, journal, keystroke encoder, local model, privacy, bundle."""
