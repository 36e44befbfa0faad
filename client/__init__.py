"""The thin side: wire protocol, socket client, the llmojid-ctl CLI and the hook entry.

Nothing here imports llmojid.daemon: the hook path must stay cheap.
"""
