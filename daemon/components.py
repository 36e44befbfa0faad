"""The list of the daemon's optional components (journal adapters, typing, model, privacy ...).

Each entry is built from the running ``Daemon`` and contributes handlers and a background task (see
``llmojid.daemon.app.Component``). Imports stay inside the builders so a component's heavy dependencies load
only when it is built (torch and llama.cpp load later still: on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmojid.daemon.app import Daemon


def build_components(daemon: Daemon) -> list[Any]:
    components: list[Any] = []
    from llmojid.daemon.adapters.ingest import HookIngest

    components.append(HookIngest.for_daemon(daemon))
    from llmojid.daemon.model.component import SynthesisComponent

    components.append(SynthesisComponent(daemon.store, daemon.keys))
    from llmojid.daemon.keystrokes.state import TypingState

    components.append(TypingState.for_daemon(daemon))
    from llmojid.daemon.backfill import Backfill
    from llmojid.daemon.stats import Stats

    components += [Backfill.for_daemon(daemon), Stats.for_daemon(daemon)]  # issue 3: import, stats
    from llmojid.daemon.exports.component import ExportImport

    components.append(ExportImport.for_daemon(daemon))  # issue 13: import --export
    from llmojid.daemon.privacy.component import PrivacyComponent

    components.append(PrivacyComponent(daemon))  # issue 6: audit, bundle, keys, forget, retention
    from llmojid.daemon.report_data import ReportData

    components.append(ReportData.for_daemon(daemon))  # issue 9: report.data
    from llmojid.daemon.sessions import SessionDiary

    components.append(SessionDiary.for_daemon(daemon))  # issue 18: journal.sessions
    return components
