"""Why a report request was refused: a filter not understood, or a figure the role may not see."""

from __future__ import annotations


class ReportError(ValueError):
    """A filter could not be understood; ``code`` names which one (for a translated message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class NotAllowed(PermissionError):
    """The user's role may not see this figure (officer-level data for viewers)."""
