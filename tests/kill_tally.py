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
        kinds = sorted(self.kinds.items())
        total = Tally(*(sum(getattr(t, f) for _, t in kinds) for f in ("trials", "acked", "stored")))
        return [f"{'work killed':<24}{'trials':>7}{'acked':>9}{'stored':>9}{'lost':>6}"] + [
            f"{kind:<24}{t.trials:>7}{t.acked:>9}{t.stored:>9}{t.acked - t.stored:>6}"
            for kind, t in [*kinds, ("total", total)]
        ]


#: The one tally of this pytest process.
KILL_TRIALS = KillTrials()
