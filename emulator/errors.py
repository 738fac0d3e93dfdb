"""The one exception the provider logic raises: an HTTP status plus the provider's own body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FREECLIMB_DOCS = "https://docs.freeclimb.com/reference/error-and-warning-dictionary#"
RESTCOMM_REALM = 'Basic realm="Restcomm realm"'
FREECLIMB_REALM = 'Basic realm="FreeClimb"'


class ProviderError(Exception):
    """A refusal the server must send as it is: status, body and extra headers.

    ``body`` is a dict for FreeClimb (JSON), a string for Restcomm (plain text), or None when
    the provider sends no body at all.
    """

    def __init__(
        self,
        status: int,
        body: dict[str, Any] | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def media_type(self) -> str | None:
        if isinstance(self.body, dict):
            return "application/json"
        if isinstance(self.body, str) and self.body:
            return "text/plain"
        return None


# FreeClimb error numbers. 0, 1, 3, 9, 50, 80 and 108 appear in the provider's own material;
# 51 (forbidden) and 81 (invalid value) are ours, as FreeClimb publishes no number for them.
FC_NOT_FOUND = (1, "Not Found")
FC_METHOD_NOT_ALLOWED = (2, "Method Not Allowed")
FC_TOO_LARGE = (3, "BadRequestBody")
FC_NOT_JSON = (9, "Invalid JSON")
FC_UNAUTHORIZED = (50, "Unauthorized To Make Request")
FC_FORBIDDEN = (51, "Forbidden")
FC_MISSING = (80, "Missing Required Parameter(s)")
FC_INVALID = (81, "Invalid Parameter")
FC_CONFLICT = (108, "ResourceConflict")


def freeclimb_error(
    status: int,
    kind: tuple[int, str],
    message: str,
    headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """A FreeClimb PlatformError body; both ``call`` and ``message`` are sent (see the spec)."""
    code, call = kind
    body = {
        "code": code,
        "call": call,
        "message": message,
        "url": f"{FREECLIMB_DOCS}{code}",
        "details": {},
    }
    return ProviderError(status, body, headers)


def freeclimb_unauthorized() -> ProviderError:
    return freeclimb_error(
        401, FC_UNAUTHORIZED, FC_UNAUTHORIZED[1], {"WWW-Authenticate": FREECLIMB_REALM}
    )


def restcomm_error(status: int, text: str = "") -> ProviderError:
    """Restcomm answers errors in plain text, most of them with no body at all."""
    return ProviderError(status, text or None)


def restcomm_unauthorized() -> ProviderError:
    return ProviderError(401, None, {"WWW-Authenticate": RESTCOMM_REALM})
