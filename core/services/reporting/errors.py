"""Why a report request was refused: the reporting flavours of ``ServiceError``.

Both carry a code the blueprint turns into words (the one error convention); the English detail
is for logs and the command line only.
"""

from __future__ import annotations

from core.services.errors import ServiceError


class ReportError(ServiceError):
    """A filter could not be understood; ``code`` names which one (for a translated message)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code


class NotAllowed(ServiceError):
    """The user's role may not see or do this (officer-level data for viewers): a 403."""

    status = 403

    def __init__(self, detail: str = "") -> None:
        super().__init__("not_allowed")
        self.detail = detail
