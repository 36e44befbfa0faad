"""Privacy: the auditor, the bundle, key rotation, forgetting and retention.

Every part here walks the store through ``llmojid.daemon.schema.SEALED_COLUMNS`` (see ``sealed.py``), so a table
another component adds later is audited, rotated and forgotten without a change here.
"""
