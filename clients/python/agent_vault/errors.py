"""Typed exceptions of the agent-vault client.

Every error answer of the vault is JSON ``{"error": {"code", "message", ...}}`` (docs/api.md).
The client raises one ``AgentVaultError`` subclass per status family:

==========  ===========================
status      exception
==========  ===========================
400 413 415 ``ValidationError``
401         ``AuthenticationError``
403         ``PermissionDeniedError``
404         ``NotFoundError``
405         ``MethodNotAllowedError``
409         ``ConflictError``
429         ``RateLimitError``
503         ``ServiceUnavailableError`` (a ``ServerError``)
other 5xx   ``ServerError``
no answer   ``APIConnectionError`` (``APITimeoutError`` for a timeout)
==========  ===========================

No secret reaches an exception's text or repr: the vault's messages never carry one
(docs/security.md), and anything shaped like a vault credential (``avk_`` API keys, ``avt_`` auth
tokens, ``avg_`` run grants, ``avs_`` signing secrets) is masked all the same.
"""

import re
from typing import Any, Dict, Mapping, Optional, Type

__all__ = [
    "AgentVaultError",
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "ConflictError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "ServiceUnavailableError",
    "ValidationError",
    "mask_secrets",
]

# A vault credential: prefix + base64url. Masked wherever text leaves the client.
_SECRET_RE = re.compile(r"\b(av[ktgs])_[A-Za-z0-9_-]{4,}")
# A bearer credential of any shape (an Authorization header value quoted by a proxy in front of the vault).
_BEARER_RE = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")


def mask_secrets(text: str) -> str:
    """``text`` with every vault credential (avk_/avt_/avg_/avs_…) and bearer value masked."""
    return _BEARER_RE.sub(r"\1 ***", _SECRET_RE.sub(r"\1_***", text))


def mask_credential(value: Optional[str]) -> str:
    """A credential as a repr may show it: its prefix only (``avk_***``)."""
    if not value:
        return "None"
    m = re.match(r"^(av[ktgs])_", value)
    return "'%s_***'" % m.group(1) if m else "'***'"


class AgentVaultError(Exception):
    """Base of every error the client raises.

    Attributes: ``status`` (HTTP status, ``None`` when there was no answer), ``code`` (the
    vault's stable snake_case code, e.g. ``profile_not_found``), ``message`` (what went wrong and
    how to fix it), ``request_id`` (the ``x-request-id`` the vault answered with; quote it when
    reporting a 500), ``details`` (the error object's other fields: ``unknown_fields`` of a 400
    ``unknown_field``, ``usage`` of a 409 ``profile_in_use``), ``method`` and ``path`` of the
    request (path only: never a query string or a body).
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: str = "error",
        request_id: Optional[str] = None,
        details: Optional[Mapping[str, Any]] = None,
        method: Optional[str] = None,
        path: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        self.message = mask_secrets(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.details: Dict[str, Any] = dict(details or {})
        self.method = method
        self.path = path
        self.retry_after = retry_after
        super().__init__(self.message)

    def __str__(self) -> str:
        where = " on %s %s" % (self.method, self.path) if self.method and self.path else ""
        status = "HTTP %s " % self.status if self.status is not None else ""
        rid = ", request id %s" % self.request_id if self.request_id else ""
        return "%s (%s%s%s%s)" % (self.message, status, self.code, where, rid)

    def __repr__(self) -> str:
        return "%s(status=%r, code=%r, message=%r, request_id=%r)" % (
            type(self).__name__,
            self.status,
            self.code,
            self.message,
            self.request_id,
        )


class ValidationError(AgentVaultError):
    """400 (``validation_error``, ``unknown_field``, ``invalid_json``, …), 413, 415: fix the request."""


class AuthenticationError(AgentVaultError):
    """401: no, a malformed, unknown or revoked API key; an expired token (``token_expired``); an invalid run grant."""


class PermissionDeniedError(AgentVaultError):
    """403: the key may see the resource but not do this (``forbidden``), or a policy refused (``host_not_allowed``, …)."""


class NotFoundError(AgentVaultError):
    """404: unknown agent, profile (or one the key may not read: the same answer), run, API key or grant."""


class MethodNotAllowedError(AgentVaultError):
    """405: the proxy's ``allowed_methods`` refused the method, or the path has no such method."""


class ConflictError(AgentVaultError):
    """409: ``profile_exists``, ``agent_exists``, ``profile_in_use`` (``details["usage"]``), ``runner_changed``, ``conflict``, …"""


class RateLimitError(AgentVaultError):
    """429: the tenant is over its rate limit; ``retry_after`` holds the seconds the vault asked to wait."""


class ServerError(AgentVaultError):
    """5xx: the vault (500, with a request id), an upstream behind the proxy (502, 504)."""


class ServiceUnavailableError(ServerError):
    """503 (``service_unavailable``, ``audit_unavailable``): transient; ``retry_after`` as the vault sent it."""


class APIConnectionError(AgentVaultError):
    """No HTTP answer: the vault could not be reached or the connection broke."""


class APITimeoutError(APIConnectionError):
    """No HTTP answer within the client's timeout."""


_BY_STATUS: Dict[int, Type[AgentVaultError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    413: ValidationError,
    415: ValidationError,
    422: ValidationError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def error_class_for(status: int) -> Type[AgentVaultError]:
    """The exception class of an HTTP error status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return AgentVaultError
