"""The daemon: serving, store, journal, keystroke encoder, local model, privacy, bundle."""

from llmojid.common.version import VERSION

__all__ = ["VERSION"]
