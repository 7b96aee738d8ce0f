"""The one error a service raises: a code saying why, and the values its words need.

Services never choose words. The blueprint that called the service turns ``code`` into a sentence
in the user's language (each blueprint keeps a table of its codes and words), and a CLI command
prints the code with its values. ``status`` is the HTTP status the refusal usually deserves; a
blueprint may choose another.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A service refused: ``code`` names why, ``params`` fill in the words for it."""

    status = 400

    def __init__(self, code: str, /, *, status: int | None = None, **params: Any) -> None:
        # ``code`` is positional only, so a value may be called ``code`` too (a unit's code).
        super().__init__(code)
        self.code = code
        self.params = params
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        if not self.params:
            return self.code
        values = ", ".join(f"{key}={value}" for key, value in sorted(self.params.items()))
        return f"{self.code} ({values})"


def words(error: ServiceError, table: dict[str, Any], fallback: str | None = None) -> str:
    """The sentence for ``error`` from a blueprint's ``table`` of code → (lazy) translated words.

    An entry may name the error's values as ``%(name)s``; they are filled in. An unknown code
    gives ``fallback`` (or the code itself, so a missing entry is visible rather than silent).
    """
    entry = table.get(error.code)
    if entry is None:
        return fallback if fallback is not None else error.code
    text = str(entry)
    if error.params:
        try:
            return text % error.params
        except (KeyError, TypeError, ValueError):
            return text
    return text
