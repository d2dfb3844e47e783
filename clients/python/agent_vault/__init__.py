"""agent-vault: a Python client for the vault's API, and helpers for webhook runners.

Standard library only (``urllib.request``, ``hmac``, ``json``); Python 3.9 or newer.

    from agent_vault import AgentVault
    vault = AgentVault("http://127.0.0.1:3000", "avk_…")   # or AGENT_VAULT_URL / AGENT_VAULT_API_KEY
    token = vault.profiles.create("crm-bot", "alice", {"username": "alice", "password": "s3cret"})["auth_token"]

See clients/python/README.md.
"""

from ._transport import parse_retry_after
from ._unset import UNSET
from ._version import __version__
from .client import OPERATIONS, AgentVault, Operation
from .errors import (
    AgentVaultError,
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
)
from .runner import SIGNATURE_HEADER, RunError, RunnerHandler, RunRequest, RunResult, sign_payload, verify_signature

__all__ = [
    "AgentVault",
    "AgentVaultError",
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "ConflictError",
    "MethodNotAllowedError",
    "NotFoundError",
    "OPERATIONS",
    "Operation",
    "PermissionDeniedError",
    "RateLimitError",
    "RunError",
    "RunRequest",
    "RunResult",
    "RunnerHandler",
    "SIGNATURE_HEADER",
    "ServerError",
    "ServiceUnavailableError",
    "UNSET",
    "ValidationError",
    "__version__",
    "parse_retry_after",
    "sign_payload",
    "verify_signature",
]
