"""The agent-vault client: one method per operation of ``GET /openapi.json``.

``OPERATIONS`` maps every ``operationId`` of the document to its method, path, whether the
client retries it (``idempotent``) and the client method that calls it; a test compares it with
the served document, so a route added to the vault without a method here fails the SDK's tests.
"""

import os
import time
from datetime import datetime
from typing import Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Union

from ._transport import NO_BODY, Transport, path_of
from ._unset import UNSET
from .errors import mask_credential
from .types import (
    Agent,
    AgentList,
    ApiKey,
    ApiKeyList,
    AuditPage,
    AuditRecord,
    AuthProfile,
    AuthProfileList,
    AuthProfileUsage,
    AuthProfileWithToken,
    CreatedAgent,
    CreatedApiKey,
    CreatedAuthToken,
    Health,
    ProxyResponse,
    RotatedAuthProfile,
    Run,
    RunAgentResponse,
    SigningSecret,
    TestResult,
    UpsertResult,
)

__all__ = ["AgentVault", "OPERATIONS", "Operation", "UNSET"]




class Operation(NamedTuple):
    method: str
    path: str
    #: Sent again after a 429 or 503 (clients/python/README.md, "Retries").
    idempotent: bool
    #: The client method, e.g. ``profiles.rotate``.
    sdk: str


OPERATIONS: Dict[str, Operation] = {
    # Compatible endpoints.
    "createAgentAuthProfile": Operation("POST", "/api/create_agent_auth_profile", False, "profiles.create_compatible"),
    "upsertAgentAuthProfile": Operation("POST", "/api/upsert_agent_auth_profile", False, "profiles.upsert"),
    "runAgent": Operation("POST", "/run_agent", False, "runs.run_agent"),
    "runAgentAlias": Operation("POST", "/api/run_agent", False, "runs.run_agent"),
    # Agents.
    "createAgent": Operation("POST", "/v1/agents", False, "agents.create"),
    "listAgents": Operation("GET", "/v1/agents", True, "agents.list"),
    "getAgent": Operation("GET", "/v1/agents/{agent_id}", True, "agents.get"),
    "updateAgent": Operation("PUT", "/v1/agents/{agent_id}", True, "agents.update"),
    "deleteAgent": Operation("DELETE", "/v1/agents/{agent_id}", True, "agents.delete"),
    "rotateAgentSigningSecret": Operation("POST", "/v1/agents/{agent_id}/rotate-signing-secret", False, "agents.rotate_signing_secret"),
    # API keys.
    "createApiKey": Operation("POST", "/v1/api-keys", False, "api_keys.create"),
    "listApiKeys": Operation("GET", "/v1/api-keys", True, "api_keys.list"),
    "revokeApiKey": Operation("DELETE", "/v1/api-keys/{key_id}", True, "api_keys.revoke"),
    # Auth profiles (native).
    "listAgentAuthProfiles": Operation("GET", "/v1/agents/{agent_id}/auth-profiles", True, "profiles.list"),
    "createAuthProfile": Operation("POST", "/v1/agents/{agent_id}/auth-profiles", False, "profiles.create"),
    # Not retried: without auth_token it replaces the profile, and each replace mints a new token.
    "putAuthProfile": Operation("PUT", "/v1/agents/{agent_id}/auth-profiles/{name}", False, "profiles.put"),
    "testAuthProfile": Operation("POST", "/v1/agents/{agent_id}/auth-profiles/{name}/test", False, "profiles.test"),
    "proxyRequest": Operation("POST", "/v1/proxy", False, "proxy"),
    "getAgentAuthProfile": Operation("GET", "/v1/agents/{agent_id}/auth-profiles/{name}", True, "profiles.get"),
    "patchAuthProfile": Operation("PATCH", "/v1/agents/{agent_id}/auth-profiles/{name}", False, "profiles.patch"),
    "deleteAgentAuthProfile": Operation("DELETE", "/v1/agents/{agent_id}/auth-profiles/{name}", True, "profiles.delete"),
    "rotateAuthProfile": Operation("POST", "/v1/agents/{agent_id}/auth-profiles/{name}/rotate", False, "profiles.rotate"),
    "getAuthProfileUsage": Operation("GET", "/v1/agents/{agent_id}/auth-profiles/{name}/usage", True, "profiles.usage"),
    "shareAuthProfile": Operation("POST", "/v1/agents/{agent_id}/auth-profiles/{name}/share", False, "profiles.share"),
    "unshareAuthProfile": Operation("DELETE", "/v1/agents/{agent_id}/auth-profiles/{name}/share/{principal}", True, "profiles.unshare"),
    # Audit, runs, meta.
    "listAuditRecords": Operation("GET", "/v1/audit", True, "audit.list"),
    "getRun": Operation("GET", "/v1/runs/{session_id}", True, "runs.status"),
    "getOpenApiDocument": Operation("GET", "/openapi.json", True, "openapi"),
    "getHealth": Operation("GET", "/healthz", True, "health"),
}

JSONObject = Dict[str, Any]
InputArgSpec = Union[str, Mapping[str, Any]]
RunnerSpec = Union[str, Mapping[str, Any]]


def _fields(**fields: Any) -> JSONObject:
    """The body fields that were given: ``None`` and ``UNSET`` are left out."""
    return {k: v for k, v in fields.items() if v is not None and v is not UNSET}


def _nullable(**fields: Any) -> JSONObject:
    """The body fields that were given: ``UNSET`` is left out, ``None`` is sent as ``null``."""
    return {k: v for k, v in fields.items() if v is not UNSET}


def _input_args(args: Sequence[InputArgSpec]) -> List[Any]:
    return [{"name": a} if isinstance(a, str) else dict(a) for a in args]


def _runner(runner: RunnerSpec) -> Any:
    return {"type": "webhook", "url": runner} if isinstance(runner, str) else dict(runner)


class _Api:
    def __init__(self, client: "AgentVault") -> None:
        self._client = client

    def _call(self, operation_id: str, *params: str, query: Optional[Mapping[str, Any]] = None, body: Any = NO_BODY) -> Any:
        return self._client._call(operation_id, *params, query=query, body=body)

    def _pages(self, operation_id: str, key: str, *params: str, query: Optional[Mapping[str, Any]] = None, page_size: Optional[int] = None) -> Iterator[Any]:
        cursor: Optional[str] = None
        while True:
            page = self._call(operation_id, *params, query={**(query or {}), "limit": page_size, "cursor": cursor})
            for item in page.get(key) or []:
                yield item
            cursor = page.get("next_cursor")
            if not cursor:
                return


class AgentsApi(_Api):
    """``/v1/agents``: register, read, replace, delete agents; rotate their runner signing secret."""

    def create(
        self,
        name: str,
        input_args: Sequence[InputArgSpec],
        runner: RunnerSpec,
        *,
        agent_id: Optional[str] = None,
        description: Optional[str] = None,
        credential_delivery: Optional[str] = None,
    ) -> CreatedAgent:
        """Registers an agent owned by the calling key. ``input_args`` items may be names; ``runner`` a webhook URL.

        The answer carries ``runner_signing_secret`` once: the runner verifies the vault's calls with it.
        """
        body = {"name": name, "input_args": _input_args(input_args), "runner": _runner(runner)}
        body.update(_fields(agent_id=agent_id, description=description, credential_delivery=credential_delivery))
        return self._call("createAgent", body=body)

    def list(self, *, page_size: Optional[int] = None) -> Iterator[Agent]:
        """Every agent, page after page (a generator: requests are made as it is iterated)."""
        return self._pages("listAgents", "agents", page_size=page_size)

    def list_page(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> AgentList:
        """One page: ``{"agents": [...], "next_cursor"?}``."""
        return self._call("listAgents", query={"limit": limit, "cursor": cursor})

    def get(self, agent_id: str) -> Agent:
        return self._call("getAgent", agent_id)

    def update(
        self,
        agent_id: str,
        name: str,
        input_args: Sequence[InputArgSpec],
        runner: RunnerSpec,
        *,
        description: Optional[str] = None,
        credential_delivery: Optional[str] = None,
    ) -> Agent:
        """Replaces the agent's definition (its owner or an admin); ``credential_delivery`` left out keeps the stored one."""
        body = {"name": name, "input_args": _input_args(input_args), "runner": _runner(runner)}
        body.update(_fields(description=description, credential_delivery=credential_delivery))
        return self._call("updateAgent", agent_id, body=body)

    def delete(self, agent_id: str, *, force: bool = False) -> None:
        """Deletes the agent; 409 ``agent_has_profiles`` while it has profiles unless ``force``."""
        self._call("deleteAgent", agent_id, query={"force": True} if force else None)

    def rotate_signing_secret(self, agent_id: str) -> SigningSecret:
        return self._call("rotateAgentSigningSecret", agent_id)


class AuthProfilesApi(_Api):
    """Auth profiles: the compatible create/upsert and the native ``/v1/agents/{agent_id}/auth-profiles`` routes."""

    def create(
        self,
        agent_id: str,
        name: str,
        auth_data: Mapping[str, str],
        *,
        auth_type: Optional[str] = None,
        auth_config: Optional[Mapping[str, Any]] = None,
        allowed_hosts: Optional[Sequence[str]] = None,
        allowed_path_prefixes: Optional[Sequence[str]] = None,
        allowed_methods: Optional[Sequence[str]] = None,
        expires_in_hours: Optional[float] = None,
        should_save_session: Optional[bool] = None,
    ) -> AuthProfileWithToken:
        """Creates a profile (``POST …/auth-profiles``): ``{auth_token (once), type, profile}``; 409 ``profile_exists``."""
        body = {"name": name, "auth_data": dict(auth_data)}
        body.update(
            _fields(
                auth_type=auth_type,
                auth_config=auth_config,
                allowed_hosts=allowed_hosts,
                allowed_path_prefixes=allowed_path_prefixes,
                allowed_methods=allowed_methods,
                expires_in_hours=expires_in_hours,
                should_save_session=should_save_session,
            )
        )
        return self._call("createAuthProfile", agent_id, body=body)

    def put(
        self,
        agent_id: str,
        name: str,
        auth_data: Mapping[str, str],
        *,
        auth_token: Optional[str] = None,
        auth_type: Optional[str] = None,
        auth_config: Optional[Mapping[str, Any]] = None,
        allowed_hosts: Optional[Sequence[str]] = None,
        allowed_path_prefixes: Optional[Sequence[str]] = None,
        allowed_methods: Optional[Sequence[str]] = None,
        expires_in_hours: Optional[float] = None,
        should_save_session: Optional[bool] = None,
    ) -> AuthProfileWithToken:
        """Upserts by name (``PUT``): create, replace (new token) or, with ``auth_token``, update in place."""
        body: JSONObject = {"auth_data": dict(auth_data)}
        body.update(
            _fields(
                auth_token=auth_token,
                auth_type=auth_type,
                auth_config=auth_config,
                allowed_hosts=allowed_hosts,
                allowed_path_prefixes=allowed_path_prefixes,
                allowed_methods=allowed_methods,
                expires_in_hours=expires_in_hours,
                should_save_session=should_save_session,
            )
        )
        return self._call("putAuthProfile", agent_id, name, body=body)

    def create_compatible(
        self,
        agent_id: str,
        name: str,
        auth_data: Mapping[str, str],
        *,
        auth_type: Optional[str] = None,
        auth_config: Optional[Mapping[str, Any]] = None,
        allowed_hosts: Optional[Sequence[str]] = None,
        allowed_path_prefixes: Optional[Sequence[str]] = None,
        allowed_methods: Optional[Sequence[str]] = None,
        expires_in_hours: Optional[float] = None,
    ) -> CreatedAuthToken:
        """The compatible ``POST /api/create_agent_auth_profile``: ``{auth_token}`` (once)."""
        body = {"agent_id": agent_id, "name": name, "auth_data": dict(auth_data)}
        body.update(
            _fields(
                auth_type=auth_type,
                auth_config=auth_config,
                allowed_hosts=allowed_hosts,
                allowed_path_prefixes=allowed_path_prefixes,
                allowed_methods=allowed_methods,
                expires_in_hours=expires_in_hours,
            )
        )
        return self._call("createAgentAuthProfile", body=body)

    def upsert(
        self,
        agent_id: str,
        auth_data: Mapping[str, str],
        *,
        name: Optional[str] = None,
        auth_token: Optional[str] = None,
        should_save_session: Optional[bool] = None,
        auth_type: Optional[str] = None,
        auth_config: Optional[Mapping[str, Any]] = None,
        allowed_hosts: Optional[Sequence[str]] = None,
        allowed_path_prefixes: Optional[Sequence[str]] = None,
        allowed_methods: Optional[Sequence[str]] = None,
        expires_in_hours: Optional[float] = None,
    ) -> UpsertResult:
        """The compatible ``POST /api/upsert_agent_auth_profile``: ``{auth_token, name, type}``, type create/replace/update."""
        body: JSONObject = {"agent_id": agent_id, "auth_data": dict(auth_data)}
        body.update(
            _fields(
                name=name,
                auth_token=auth_token,
                should_save_session=should_save_session,
                auth_type=auth_type,
                auth_config=auth_config,
                allowed_hosts=allowed_hosts,
                allowed_path_prefixes=allowed_path_prefixes,
                allowed_methods=allowed_methods,
                expires_in_hours=expires_in_hours,
            )
        )
        return self._call("upsertAgentAuthProfile", body=body)

    def list(self, agent_id: str, *, page_size: Optional[int] = None) -> Iterator[AuthProfile]:
        """Every profile of the agent the key may read (metadata only), page after page (a generator)."""
        return self._pages("listAgentAuthProfiles", "profiles", agent_id, page_size=page_size)

    def list_page(self, agent_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> AuthProfileList:
        return self._call("listAgentAuthProfiles", agent_id, query={"limit": limit, "cursor": cursor})

    def get(self, agent_id: str, name: str) -> AuthProfile:
        """Metadata, never a value."""
        return self._call("getAgentAuthProfile", agent_id, name)

    def patch(
        self,
        agent_id: str,
        name: str,
        *,
        active: Any = UNSET,
        description: Any = UNSET,
        allowed_source_ips: Any = UNSET,
        allowed_hosts: Any = UNSET,
        allowed_path_prefixes: Any = UNSET,
        allowed_methods: Any = UNSET,
    ) -> AuthProfile:
        """Edits non-secret settings; a field left out is kept, ``None`` removes it (``description``, the outbound policy)."""
        body = _nullable(
            active=active,
            description=description,
            allowed_source_ips=allowed_source_ips,
            allowed_hosts=allowed_hosts,
            allowed_path_prefixes=allowed_path_prefixes,
            allowed_methods=allowed_methods,
        )
        return self._call("patchAuthProfile", agent_id, name, body=body)

    def rotate(self, agent_id: str, name: str, auth_token: str, *, expires_in_hours: Any = UNSET) -> RotatedAuthProfile:
        """New token, same values; the old token dies. ``expires_in_hours``: left out keeps the expiry, ``None`` removes it."""
        body = {"auth_token": auth_token}
        body.update(_nullable(expires_in_hours=expires_in_hours))
        return self._call("rotateAuthProfile", agent_id, name, body=body)

    def test(self, agent_id: str, name: str, auth_token: str, *, url: Optional[str] = None, method: str = "GET") -> TestResult:
        """One real call with the credentials injected (``url``; OAuth2 without ``url``: a token fetch): ``{ok, status?, latency_ms, error?}``."""
        body: JSONObject = {"auth_token": auth_token}
        if url is not None:
            body["request"] = {"method": method, "url": url}
        return self._call("testAuthProfile", agent_id, name, body=body)

    def delete(self, agent_id: str, name: str, *, force: bool = False) -> None:
        """Deletes the profile (its token dies); 409 ``profile_in_use`` (``details["usage"]``) while in use, unless ``force``."""
        self._call("deleteAgentAuthProfile", agent_id, name, query={"force": True} if force else None)

    def share(self, agent_id: str, name: str, principal: str, permission: str = "read") -> AuthProfile:
        """Grants ``principal`` (a key_id or ``"role:member"``) ``read`` or ``read_write``."""
        return self._call("shareAuthProfile", agent_id, name, body={"principal": principal, "permission": permission})

    def unshare(self, agent_id: str, name: str, principal: str) -> AuthProfile:
        return self._call("unshareAuthProfile", agent_id, name, principal)

    def usage(self, agent_id: str, name: str) -> AuthProfileUsage:
        """Counters and the last 50 uses."""
        return self._call("getAuthProfileUsage", agent_id, name)


class RunsApi(_Api):
    """``run_agent`` and ``GET /v1/runs/{session_id}``."""

    def run_agent(
        self,
        agent_id: str,
        *,
        auth_token: Optional[str] = None,
        parameters: Optional[Mapping[str, Any]] = None,
        run_async: Optional[bool] = None,
        alias: bool = False,
    ) -> RunAgentResponse:
        """Runs the agent with the profile of ``auth_token`` (async by default: ``run_async=False`` waits for the runner).

        ``alias=True`` calls ``POST /api/run_agent`` instead of ``POST /run_agent`` (same behaviour).
        """
        body: JSONObject = {"agent_id": agent_id}
        body.update(_fields(auth_token=auth_token, parameters=dict(parameters) if parameters is not None else None, run_async=run_async))
        return self._call("runAgentAlias" if alias else "runAgent", body=body)

    def status(self, session_id: str) -> Run:
        """``{status: queued|running|succeeded|failed, agent_output?, error_message?, …}``."""
        return self._call("getRun", session_id)

    def wait(self, session_id: str, *, timeout: float = 60.0, poll_interval: float = 0.25) -> Run:
        """Polls :meth:`status` until the run has succeeded or failed; ``TimeoutError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.status(session_id)
            if run.get("status") in ("succeeded", "failed"):
                return run
            if time.monotonic() >= deadline:
                raise TimeoutError("run %s still %s after %ss" % (session_id, run.get("status"), timeout))
            time.sleep(poll_interval)


class AuditApi(_Api):
    """``GET /v1/audit``: newest first."""

    def list(
        self,
        *,
        agent_id: Optional[str] = None,
        profile: Optional[str] = None,
        action: Optional[str] = None,
        since: Union[str, datetime, None] = None,
        page_size: Optional[int] = None,
    ) -> Iterator[AuditRecord]:
        """Every matching record, page after page (a generator). A member key: ``agent_id`` and ``profile`` both."""
        return self._pages("listAuditRecords", "records", query=self._query(agent_id, profile, action, since), page_size=page_size)

    def list_page(
        self,
        *,
        agent_id: Optional[str] = None,
        profile: Optional[str] = None,
        action: Optional[str] = None,
        since: Union[str, datetime, None] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> AuditPage:
        return self._call("listAuditRecords", query={**self._query(agent_id, profile, action, since), "limit": limit, "cursor": cursor})

    @staticmethod
    def _query(agent_id: Optional[str], profile: Optional[str], action: Optional[str], since: Union[str, datetime, None]) -> JSONObject:
        if isinstance(since, datetime):
            if since.tzinfo is None:
                raise ValueError("since: give a timezone-aware datetime (e.g. datetime.now(timezone.utc))")
            since = since.isoformat()
        return {"agent_id": agent_id, "profile": profile, "action": action, "since": since}


class ApiKeysApi(_Api):
    """``/v1/api-keys`` (admin keys only; a member key gets ``PermissionDeniedError``)."""

    def create(self, name: str, *, role: Optional[str] = None) -> CreatedApiKey:
        """Mints a key (``role`` admin or member, default member): ``api_key`` is shown once."""
        return self._call("createApiKey", body={"name": name, **_fields(role=role)})

    def list(self, *, page_size: Optional[int] = None) -> Iterator[ApiKey]:
        return self._pages("listApiKeys", "api_keys", page_size=page_size)

    def list_page(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> ApiKeyList:
        return self._call("listApiKeys", query={"limit": limit, "cursor": cursor})

    def revoke(self, key_id: str) -> None:
        self._call("revokeApiKey", key_id)


class AgentVault:
    """A client of one vault with one API key.

    ``url`` and ``api_key`` default to ``AGENT_VAULT_URL`` and ``AGENT_VAULT_API_KEY``.
    ``timeout`` is per HTTP request (seconds). Idempotent requests (``OPERATIONS``) are retried
    after 429/503 at most ``max_retries`` times, waiting as ``Retry-After`` says (plus jitter) as
    long as that is at most ``max_retry_wait`` seconds. ``use_env_proxies=False`` ignores
    ``HTTP(S)_PROXY`` from the environment.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 30.0,
        user_agent: Optional[str] = None,
        use_env_proxies: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        url = url or os.environ.get("AGENT_VAULT_URL")
        api_key = api_key or os.environ.get("AGENT_VAULT_API_KEY")
        if not url:
            raise ValueError("Give the vault's URL (url=… or AGENT_VAULT_URL), e.g. http://127.0.0.1:3000")
        if not api_key:
            raise ValueError("Give an API key (api_key=… or AGENT_VAULT_API_KEY): avk_…")
        self._transport = Transport(
            url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            user_agent=user_agent,
            use_env_proxies=use_env_proxies,
            sleep=sleep,
        )
        self.url = self._transport.base_url
        #: Called with each operationId before its request (tests count the operations they covered).
        self.on_operation: Optional[Callable[[str], None]] = None
        self.agents = AgentsApi(self)
        self.profiles = AuthProfilesApi(self)
        self.runs = RunsApi(self)
        self.audit = AuditApi(self)
        self.api_keys = ApiKeysApi(self)

    def __repr__(self) -> str:
        return "AgentVault(url=%r, api_key=%s)" % (self.url, mask_credential(self._transport._credential))

    def _call(self, operation_id: str, *params: str, query: Optional[Mapping[str, Any]] = None, body: Any = NO_BODY) -> Any:
        op = OPERATIONS[operation_id]
        if self.on_operation is not None:
            self.on_operation(operation_id)
        return self._transport.request(op.method, path_of(op.path, params), query=query, body=body, idempotent=op.idempotent)

    def proxy(
        self,
        agent_id: str,
        auth_token: str,
        method: str,
        url: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        query: Optional[Mapping[str, Union[str, Sequence[str]]]] = None,
        body: Any = UNSET,
    ) -> ProxyResponse:
        """``POST /v1/proxy``: sends ``method url`` with the profile's credentials injected; ``{status, headers, body, body_encoding}``.

        ``body``: a string is sent as is (set content-type in ``headers``), any other JSON value as JSON.
        A runner holding a run grant uses :meth:`agent_vault.runner.RunRequest.proxy` instead.
        """
        req: JSONObject = {"agent_id": agent_id, "auth_token": auth_token, "method": method, "url": url}
        req.update(_fields(headers=headers, query=query))
        if body is not UNSET:
            req["body"] = body
        return self._call("proxyRequest", body=req)

    def run_agent(
        self,
        agent_id: str,
        *,
        auth_token: Optional[str] = None,
        parameters: Optional[Mapping[str, Any]] = None,
        run_async: Optional[bool] = None,
    ) -> RunAgentResponse:
        """Same as ``runs.run_agent``."""
        return self.runs.run_agent(agent_id, auth_token=auth_token, parameters=parameters, run_async=run_async)

    def health(self) -> Health:
        return self._call("getHealth")

    def openapi(self) -> JSONObject:
        """The contract: ``GET /openapi.json``."""
        return self._call("getOpenApiDocument")
