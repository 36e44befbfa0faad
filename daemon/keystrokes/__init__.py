"""Keystroke timing: content-free features, the TCN encoder, its training and its evaluation.

Importing this package (or :mod:`.features`) never imports torch; :mod:`.encoder` loads it on first use.
"""
