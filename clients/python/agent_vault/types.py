"""Shapes of the vault's answers, as ``TypedDict`` (type hints only: the client returns plain dicts).

They follow the schemas of ``GET /openapi.json`` (``components.schemas``); every key is optional
here (``total=False``) so the hints stay valid on Python 3.9, which has no ``NotRequired``.
"""

from typing import Any, Dict, List, TypedDict

__all__ = [
    "Agent",
    "AgentList",
    "ApiKey",
    "ApiKeyList",
    "AuditPage",
    "AuditRecord",
    "AuthProfile",
    "AuthProfileList",
    "AuthProfileUsage",
    "AuthProfileWithToken",
    "CreatedAgent",
    "CreatedApiKey",
    "CreatedAuthToken",
    "Grant",
    "Health",
    "InputArg",
    "ProxyResponse",
    "RotatedAuthProfile",
    "Run",
    "RunAgentResponse",
    "Runner",
    "SigningSecret",
    "TestResult",
    "UpsertResult",
]


class InputArg(TypedDict, total=False):
    name: str
    required: bool
    secret: bool
    description: str


class Runner(TypedDict, total=False):
    type: str  # "webhook"
    url: str
    timeout_ms: int


class Agent(TypedDict, total=False):
    agent_id: str
    name: str
    description: str
    input_args: List[InputArg]
    runner: Runner
    credential_delivery: str  # "parameters" | "proxy"
    owner: str
    created_at: str
    updated_at: str


class CreatedAgent(Agent, total=False):
    runner_signing_secret: str


class AgentList(TypedDict, total=False):
    agents: List[Agent]
    next_cursor: str


class SigningSecret(TypedDict, total=False):
    agent_id: str
    runner_signing_secret: str


class Grant(TypedDict, total=False):
    principal: str
    permission: str  # "read" | "read_write"


class AuthProfile(TypedDict, total=False):
    agent_id: str
    name: str
    fields: List[str]
    auth_type: str
    auth_config: Dict[str, Any]
    allowed_hosts: List[str]
    allowed_path_prefixes: List[str]
    allowed_methods: List[str]
    last_tested_at: str
    last_test_ok: bool
    last_error: str
    last_error_at: str
    generation: int
    record_version: int
    should_save_session: bool
    created_at: str
    updated_at: str
    last_used_at: str
    use_count: int
    active: bool
    description: str
    token_expires_at: str
    token_state: str
    allowed_source_ips: List[str]
    uses_last_7_days: Dict[str, int]
    in_flight_until: str
    owner: str
    visibility: str
    grants: List[Grant]


class AuthProfileList(TypedDict, total=False):
    profiles: List[AuthProfile]
    next_cursor: str


class CreatedAuthToken(TypedDict, total=False):
    """``POST /api/create_agent_auth_profile``."""

    auth_token: str
    warnings: List[str]


class UpsertResult(TypedDict, total=False):
    """``POST /api/upsert_agent_auth_profile``: ``type`` is create, replace or update."""

    auth_token: str
    name: str
    type: str
    warnings: List[str]


class AuthProfileWithToken(TypedDict, total=False):
    """Native create and ``PUT``: the token (once), what happened, the metadata."""

    auth_token: str
    type: str
    profile: AuthProfile


class RotatedAuthProfile(TypedDict, total=False):
    auth_token: str
    name: str
    generation: int
    token_expires_at: str


class AuthProfileUsage(TypedDict, total=False):
    last_used_at: str
    use_count: int
    uses_last_7_days: Dict[str, int]
    in_flight_until: str
    uses: List[Dict[str, Any]]


class ProxyResponse(TypedDict, total=False):
    status: int
    headers: Dict[str, str]
    body: str
    body_encoding: str  # "utf8" | "base64"


class TestResult(TypedDict, total=False):
    ok: bool
    status: int
    latency_ms: float
    error: str


class RunAgentResponse(TypedDict, total=False):
    agent_run_url: str
    session_id: str
    agent_output: Any
    error_message: str


class Run(TypedDict, total=False):
    session_id: str
    agent_id: str
    status: str  # queued | running | succeeded | failed
    agent_output: Any
    error_message: str
    created_at: str
    finished_at: str


class AuditRecord(TypedDict, total=False):
    id: str
    at: str
    action: str
    key_id: str
    agent_id: str
    profile: str
    generation: int
    status: int
    result: str
    source_ip: str
    request_id: str
    session_id: str
    principal: str
    permission: str
    role: str


class AuditPage(TypedDict, total=False):
    records: List[AuditRecord]
    next_cursor: str


class ApiKey(TypedDict, total=False):
    key_id: str
    name: str
    role: str  # "admin" | "member"
    created_at: str


class CreatedApiKey(ApiKey, total=False):
    api_key: str


class ApiKeyList(TypedDict, total=False):
    api_keys: List[ApiKey]
    next_cursor: str


class Health(TypedDict, total=False):
    status: str
