"""WHERE clauses built from optional filters, for both databases.

A listing (conversations, articles, the ratings and knowledge-base reports) narrows its rows by
whichever filters the caller gave. ``Filters`` collects those conditions and their values in the
order they appear in the statement; the one thing that differs between SQLite and PostgreSQL here
is how a value is marked (``?1`` or ``$1``...: ``rows.sqlite_mark`` or ``rows.postgres_mark``,
chosen when the builder is made). Marks are numbered in both, so a condition may use its value
twice (``{0}`` twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .rows import Mark


class Filters:
    """The conditions of one statement and the values they bind, in order."""

    __slots__ = ("_conditions", "_mark", "params")

    def __init__(self, mark: Mark, *, conditions: Sequence[str] = ()) -> None:
        self._mark = mark
        self.params: list[Any] = []
        self._conditions = list(conditions)

    def mark(self, value: Any) -> str:
        """Bind ``value`` as the statement's next parameter; the text that stands for it."""
        self.params.append(value)
        return self._mark(len(self.params))

    def marks(self, values: Sequence[Any]) -> str:
        """``values`` bound one after the other, their marks joined by commas (for ``IN (...)``)."""
        return ", ".join(self.mark(value) for value in values)

    def add(self, condition: str, *values: Any) -> None:
        """Require ``condition``, where each ``{}`` stands for the next of ``values``."""
        self._conditions.append(condition.format(*(self.mark(value) for value in values)))

    def equal(self, column: str, value: Any) -> None:
        """Require ``column = value``, unless ``value`` is None (no filter)."""
        if value is not None:
            self.add(f"{column} = {{}}", value)

    def one_of(self, column: str, values: Sequence[Any]) -> None:
        """Require ``column`` to be one of ``values`` (none matches an empty list)."""
        self._conditions.append(f"{column} IN ({self.marks(values)})" if values else "FALSE")

    def between(self, column: str, since: float | None, until: float | None) -> None:
        """Require ``since <= column < until``, each bound only when given."""
        if since is not None:
            self.add(f"{column} >= {{}}", since)
        if until is not None:
            self.add(f"{column} < {{}}", until)

    @property
    def conditions(self) -> str:
        """The conditions joined by AND (``TRUE`` when there are none)."""
        return " AND ".join(self._conditions) if self._conditions else "TRUE"

    @property
    def where(self) -> str:
        """``WHERE`` and the conditions, or nothing when there are none."""
        return f"WHERE {self.conditions}" if self._conditions else ""

    def page(self, limit: int, offset: int) -> str:
        """``LIMIT ... OFFSET ...`` bound after the conditions' values."""
        return f"LIMIT {self.mark(limit)} OFFSET {self.mark(offset)}"
