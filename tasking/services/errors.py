"""Domain exceptions raised by services; views and the API map them to responses."""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """Base of every rule a service refuses to break."""

    status = 400
    error = "bad_request"

    def __init__(self, message: str, *, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})


class Invalid(DomainError):
    """Input is invalid; `fields` maps each bad field to the reason."""

    status = 422
    error = "invalid"


class NotFound(DomainError):
    """No such record, or one the caller may not know exists."""

    status = 404
    error = "not_found"


class Forbidden(DomainError):
    """The caller's role does not allow this action."""

    status = 403
    error = "forbidden"


class Conflict(DomainError):
    """The record changed since the caller read it, or the state forbids the change."""

    status = 409
    error = "conflict"
