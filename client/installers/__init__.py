"""Hook installers: register ``llmojid-ctl hook <harness>`` in each harness's own settings, and take it out again.

Pure edit logic, one module per format (``hooks_json`` for Claude Code, Codex and Grok Build, ``hermes_yaml``,
``codex_toml`` for Codex's feature flag, ``opencode_plugin`` for OpenCode's plugin file, ``nudge`` for the optional
nudge), ``harnesses`` for which files each harness uses and
the install/uninstall plan, ``files`` for the I/O (symlinks followed, atomic writes, the install record).
Every edit is a list of ``edits.Edit`` made on the file as it was, so uninstall can undo it byte for byte.
"""
