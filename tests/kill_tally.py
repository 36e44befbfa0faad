"""The suite's ``kill -9`` trials, counted: what each trial had acknowledged before the kill and how much of that
the restarted daemon still held. The tests assert nothing was lost; this tally is what the end of a run prints
(``conftest.pytest_terminal_summary``) and what the README's Guarantees table quotes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Tally:
    """Per kind of work killed (ingest, analyze, rotation, ...): trials, items acked, acked items found after."""

    trials: int = 0
    acked: int = 0
    stored: int = 0


@dataclass
class KillTrials:
    kinds: dict[str, Tally] = field(default_factory=dict)

    def record(self, kind: str, *, acked: int, stored: int) -> None:
        """One trial: ``acked`` items the daemon acknowledged before the kill, ``stored`` of them found after."""
        tally = self.kinds.setdefault(kind, Tally())
        tally.trials += 1
        tally.acked += acked
        tally.stored += stored

    def table(self) -> list[str]:
        if not self.kinds:
            return []
        lines = [f"{'work killed':<24}{'trials':>7}{'acked':>9}{'stored':>9}{'lost':>6}"]
        total = Tally()
        for kind, t in sorted(self.kinds.items()):
            lines.append(f"{kind:<24}{t.trials:>7}{t.acked:>9}{t.stored:>9}{t.acked - t.stored:>6}")
            total.trials, total.acked, total.stored = (
                total.trials + t.trials,
                total.acked + t.acked,
                total.stored + t.stored,
            )
        lines.append(f"{'total':<24}{total.trials:>7}{total.acked:>9}{total.stored:>9}{total.acked - total.stored:>6}")
        return lines


#: The one tally of this pytest process.
KILL_TRIALS = KillTrials()
