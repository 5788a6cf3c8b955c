"""The chat checks of a distributed run, without I/O: every message a connection receives is
checked to arrive once and in order, and after a resume nothing is missing.

The server's promise (docs/protocol.md, "Exactly once, in order"): a connection that joined a
conversation with ``after_seq`` gets every message with ``seq > after_seq`` once, in ascending
order; its own messages come back only in the acknowledgement (their ``seq``), never as
``message:new``. So a party's view of one conversation is the seqs it received plus the seqs of
its acknowledged sends, and once it has caught up to a ``last_seq`` every seq up to it is there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

# What a worker reports to the master and the master sums (one counter each).
COUNTERS = ("messages_received", "delivered", "duplicates", "out_of_order", "lost", "resumes",
            "resumes_incomplete")


@dataclass
class ChatCounters:
    """Counts of the chat checks. ``delivered``: the messages of the round trips received by
    their other party (a ping by the agent, its reply by the visitor), the unit of the cost per
    message; ``messages_received``: every ``message:new``, system messages included."""

    messages_received: int = 0
    delivered: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    lost: int = 0
    resumes: int = 0
    resumes_incomplete: int = 0

    def add(self, other: Mapping[str, int]) -> None:
        """Add counts reported as a mapping (unknown names are refused)."""
        for name, value in other.items():
            if name not in COUNTERS:
                raise ValueError(f"unknown chat counter {name!r}")
            setattr(self, name, getattr(self, name) + int(value))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def take(self) -> dict[str, int]:
        """The counts so far, and start again from zero (a worker's report is a delta)."""
        counts = self.as_dict()
        for name in COUNTERS:
            setattr(self, name, 0)
        return counts

    @property
    def failures(self) -> int:
        """Broken promises: any of these makes the run fail."""
        return self.duplicates + self.out_of_order + self.lost + self.resumes_incomplete


# A connection remembers this many of the seqs it received, to tell a repeat (a duplicate) from a
# late arrival (out of order); older repeats still count, as out of order. Bounded for soaks.
REMEMBERED = 1024


@dataclass
class SequenceCheck:
    """One party's view of one conversation, across its connections."""

    counters: ChatCounters
    _contiguous: int = 0  # every seq up to this one is held
    _above: set[int] = field(default_factory=set)  # held seqs above _contiguous
    _received: set[int] = field(default_factory=set)  # the last REMEMBERED received on this connection
    _after: int = 0  # the after_seq the current connection joined with
    _highest: int = 0  # the highest seq received on the current connection

    def received(self, seq: int) -> None:
        """A ``message:new`` with ``seq`` arrived on the current connection."""
        self.counters.messages_received += 1
        if seq in self._received or seq <= self._after:
            self.counters.duplicates += 1
        elif seq < self._highest:
            self.counters.out_of_order += 1
        self._received.add(seq)
        if len(self._received) > 2 * REMEMBERED:
            self._received = {s for s in self._received if s > self._highest - REMEMBERED}
        self._highest = max(self._highest, seq)
        self._hold(seq)

    def acknowledged(self, seq: int) -> None:
        """This party's own message was stored as ``seq`` (it is not sent back to its connection)."""
        self._hold(seq)

    def _hold(self, seq: int) -> None:
        if seq <= self._contiguous:
            return
        self._above.add(seq)
        while self._contiguous + 1 in self._above:
            self._contiguous += 1
            self._above.discard(self._contiguous)

    def contiguous(self) -> int:
        """The highest seq up to which nothing is missing: what to resume from."""
        return self._contiguous

    def rejoin(self, after_seq: int) -> None:
        """A new connection joins with ``after_seq``: it starts a new once-and-in-order check."""
        self._received = set()
        self._after = after_seq
        self._highest = after_seq

    def missing(self, last_seq: int) -> int:
        """How many seqs up to ``last_seq`` this party has not got."""
        return sum(1 for seq in range(self._contiguous + 1, last_seq + 1) if seq not in self._above)

    def settle(self, last_seq: int) -> int:
        """At the end (or after a resume that timed out): count what is missing up to
        ``last_seq`` as lost, once; returns it."""
        gap = self.missing(last_seq)
        self.counters.lost += gap
        for seq in range(self._contiguous + 1, last_seq + 1):  # counted: never counted again
            self._hold(seq)
        return gap


__all__ = ["COUNTERS", "REMEMBERED", "ChatCounters", "SequenceCheck"]
