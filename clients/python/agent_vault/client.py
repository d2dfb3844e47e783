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
    ConnectLink,
    CreatedAgent,
    CreatedApiKey,
    CreatedAuthToken,
    CreatedWebhook,
    DisconnectedAuthProfile,
    Health,
    ProxyResponse,
    RotatedAuthProfile,
    Run,
    RunAgentResponse,
    SigningSecret,
    TestResult,
    UpsertResult,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookList,
    WebhookSecret,
    WebhookTestEvent,
)

__all__ = ["AgentVault", "HeadResponse", "OPERATIONS", "Operation", "Redirect", "UNSET"]




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
    # Webhooks (admin).
    "createWebhook": Operation("POST", "/v1/webhooks", False, "webhooks.create"),
    "listWebhooks": Operation("GET", "/v1/webhooks", True, "webhooks.list"),
    "getWebhook": Operation("GET", "/v1/webhooks/{webhook_id}", True, "webhooks.get"),
    "updateWebhook": Operation("PATCH", "/v1/webhooks/{webhook_id}", False, "webhooks.update"),
    "deleteWebhook": Operation("DELETE", "/v1/webhooks/{webhook_id}", True, "webhooks.delete"),
    "rotateWebhookSecret": Operation("POST", "/v1/webhooks/{webhook_id}/rotate-secret", False, "webhooks.rotate_secret"),
    "listWebhookDeliveries": Operation("GET", "/v1/webhooks/{webhook_id}/deliveries", True, "webhooks.deliveries"),
    "sendWebhookTestEvent": Operation("POST", "/v1/webhooks/{webhook_id}/test", False, "webhooks.send_test_event"),
    # Auth profiles (native).
    "listAgentAuthProfiles": Operation("GET", "/v1/agents/{agent_id}/auth-profiles", True, "profiles.list"),
    "listAuthProfiles": Operation("GET", "/v1/auth-profiles", True, "profiles.list_all"),
    "createAuthProfile": Operation("POST", "/v1/agents/{agent_id}/auth-profiles", False, "profiles.create"),
    # Not retried: without auth_token it replaces the profile, and each replace mints a new token.
    "putAuthProfile": Operation("PUT", "/v1/agents/{agent_id}/auth-profiles/{name}", False, "profiles.put"),
    "testAuthProfile": Operation("POST", "/v1/agents/{agent_id}/auth-profiles/{name}/test", False, "profiles.test"),
    "proxyRequest": Operation("POST", "/v1/proxy", False, "proxy"),
    "getAgentAuthProfile": Operation("GET", "/v1/agents/{agent_id}/auth-profiles/{name}", True, "profiles.get"),
    "patchAuthProfile": Operation("PATCH", "/v1/agents/{agent_id}/auth-profiles/{name}", False, "profiles.patch"),
    "deleteAgentAuthProfile": Operation("DELETE", "/v1/agents/{agent_id}/auth-profiles/{name}", True, "profiles.delete"),
    "rotateAuthProfile": Operation("POST", "/v1/agents/{agent_id}/auth-profiles/{name}/rotate", False, "profiles.rotate"),
    "connectAuthProfile": Operation("POST", "/v1/agents/{agent_id}/auth-profiles/{name}/connect", False, "profiles.connect"),
    "disconnectAuthProfile": Operation("POST", "/v1/agents/{agent_id}/auth-profiles/{name}/disconnect", False, "profiles.disconnect"),
    # The end user's browser routes (OAuth connect): a 302 on success.
    "openConnectLink": Operation("GET", "/v1/oauth/connect", True, "oauth.open_connect_link"),
    "oauthCallback": Operation("GET", "/v1/oauth/callback", True, "oauth.callback"),
    "getAuthProfileUsage": Operation("GET", "/v1/agents/{agent_id}/auth-profiles/{name}/usage", True, "profiles.usage"),
    "shareAuthProfile": Operation("POST", "/v1/agents/{agent_id}/auth-profiles/{name}/share", False, "profiles.share"),
    "unshareAuthProfile": Operation("DELETE", "/v1/agents/{agent_id}/auth-profiles/{name}/share/{principal}", True, "profiles.unshare"),
    # Audit, runs, meta.
    "listAuditRecords": Operation("GET", "/v1/audit", True, "audit.list"),
    "getRun": Operation("GET", "/v1/runs/{session_id}", True, "runs.status"),
    "getOpenApiDocument": Operation("GET", "/openapi.json", True, "openapi"),
    "getHealth": Operation("GET", "/healthz", True, "health"),
    # HEAD wherever GET is (RFC 9110 §9.3.2): the GET's status and headers, no body; all through ``head``.
    "listAgentsHead": Operation("HEAD", "/v1/agents", True, "head"),
    "getAgentHead": Operation("HEAD", "/v1/agents/{agent_id}", True, "head"),
    "listApiKeysHead": Operation("HEAD", "/v1/api-keys", True, "head"),
    "listWebhooksHead": Operation("HEAD", "/v1/webhooks", True, "head"),
    "getWebhookHead": Operation("HEAD", "/v1/webhooks/{webhook_id}", True, "head"),
    "listWebhookDeliveriesHead": Operation("HEAD", "/v1/webhooks/{webhook_id}/deliveries", True, "head"),
    "listAgentAuthProfilesHead": Operation("HEAD", "/v1/agents/{agent_id}/auth-profiles", True, "head"),
    "listAuthProfilesHead": Operation("HEAD", "/v1/auth-profiles", True, "head"),
    "getAgentAuthProfileHead": Operation("HEAD", "/v1/agents/{agent_id}/auth-profiles/{name}", True, "head"),
    "getAuthProfileUsageHead": Operation("HEAD", "/v1/agents/{agent_id}/auth-profiles/{name}/usage", True, "head"),
    "listAuditRecordsHead": Operation("HEAD", "/v1/audit", True, "head"),
    "getRunHead": Operation("HEAD", "/v1/runs/{session_id}", True, "head"),
    "getOpenApiDocumentHead": Operation("HEAD", "/openapi.json", True, "head"),
    "getHealthHead": Operation("HEAD", "/healthz", True, "head"),
    "openConnectLinkHead": Operation("HEAD", "/v1/oauth/connect", True, "head"),
    "oauthCallbackHead": Operation("HEAD", "/v1/oauth/callback", True, "head"),
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


def _filters(
    q: Optional[str] = None,
    auth_type: Optional[str] = None,
    visibility: Optional[str] = None,
    token_state: Optional[str] = None,
    connection_state: Optional[str] = None,
    active: Optional[bool] = None,
    end_user_id: Optional[str] = None,
) -> JSONObject:
    """A profile listing's filters as query parameters (``None`` left out by the transport)."""
    return {
        "q": q,
        "auth_type": auth_type,
        "visibility": visibility,
        "token_state": token_state,
        "connection_state": connection_state,
        "active": active,
        "end_user_id": end_user_id,
    }


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
        end_user_id: Optional[str] = None,
    ) -> AuthProfileWithToken:
        """Creates a profile (``POST …/auth-profiles``): ``{auth_token (once), type, profile}``; 409 ``profile_exists``.

        ``auth_type="oauth2_authorization_code"``: the answer also carries ``connect_url`` for the end user's browser.
        """
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
                end_user_id=end_user_id,
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

    def list(
        self,
        agent_id: str,
        *,
        page_size: Optional[int] = None,
        q: Optional[str] = None,
        auth_type: Optional[str] = None,
        visibility: Optional[str] = None,
        token_state: Optional[str] = None,
        connection_state: Optional[str] = None,
        active: Optional[bool] = None,
        end_user_id: Optional[str] = None,
    ) -> Iterator[AuthProfile]:
        """Every profile of the agent the key may read (metadata only), page after page (a generator).

        The filters are applied by the vault (every one given must match): ``q`` (name contains,
        case-insensitive), ``auth_type``, ``visibility``, ``token_state``, ``connection_state``,
        ``active``, ``end_user_id``.
        """
        query = _filters(q, auth_type, visibility, token_state, connection_state, active, end_user_id)
        return self._pages("listAgentAuthProfiles", "profiles", agent_id, query=query, page_size=page_size)

    def list_page(self, agent_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None, **filters: Any) -> AuthProfileList:
        """One page; ``filters`` as for :meth:`list`."""
        return self._call("listAgentAuthProfiles", agent_id, query={**_filters(**filters), "limit": limit, "cursor": cursor})

    def list_all(
        self,
        *,
        agent_id: Optional[str] = None,
        page_size: Optional[int] = None,
        q: Optional[str] = None,
        auth_type: Optional[str] = None,
        visibility: Optional[str] = None,
        token_state: Optional[str] = None,
        connection_state: Optional[str] = None,
        active: Optional[bool] = None,
        end_user_id: Optional[str] = None,
    ) -> Iterator[AuthProfile]:
        """``GET /v1/auth-profiles``: every profile of the tenant the key may read, across agents, in name order (a generator); filters as for :meth:`list`."""
        query = {**_filters(q, auth_type, visibility, token_state, connection_state, active, end_user_id), "agent_id": agent_id}
        return self._pages("listAuthProfiles", "profiles", query=query, page_size=page_size)

    def list_all_page(self, *, limit: Optional[int] = None, cursor: Optional[str] = None, agent_id: Optional[str] = None, **filters: Any) -> AuthProfileList:
        return self._call("listAuthProfiles", query={**_filters(**filters), "agent_id": agent_id, "limit": limit, "cursor": cursor})

    def rename(self, agent_id: str, name: str, new_name: str) -> AuthProfile:
        """Renames the profile (``PATCH {name}``, sent alone): its token, usage and history stay; 409 ``profile_exists`` if taken."""
        return self._call("patchAuthProfile", agent_id, name, body={"name": new_name})

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

    def delete(self, agent_id: str, name: str, *, force: bool = False, auth_token: Optional[str] = None) -> None:
        """Deletes the profile (its token dies); 409 ``profile_in_use`` (``details["usage"]``) while in use, unless ``force``.

        ``auth_token`` (oauth2_authorization_code): the refresh token is revoked at the provider first.
        """
        body: Any = {"auth_token": auth_token} if auth_token else NO_BODY
        self._call("deleteAgentAuthProfile", agent_id, name, query={"force": True} if force else None, body=body)

    def connect(self, agent_id: str, name: str, auth_token: str) -> ConnectLink:
        """oauth2_authorization_code: a new single-use connect link, ``{connect_url, connect_expires_at}`` (15 minutes), for the end user's browser."""
        return self._call("connectAuthProfile", agent_id, name, body={"auth_token": auth_token})

    def disconnect(self, agent_id: str, name: str, auth_token: str) -> DisconnectedAuthProfile:
        """oauth2_authorization_code: revokes the refresh token at the provider (RFC 7009, with a ``revocation_url``) and removes the tokens.

        Answers ``{connection_state: "disconnected", revocation, revocation_error?}``; uses answer 409
        ``reauthorization_required`` until the end user connects again.
        """
        return self._call("disconnectAuthProfile", agent_id, name, body={"auth_token": auth_token})

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


class WebhooksApi(_Api):
    """``/v1/webhooks`` (admin keys only): subscriptions to the vault's events, their delivery log.

    Deliveries are signed like runner calls: check them with :func:`agent_vault.verify_signature`
    and the webhook's ``signing_secret`` (clients/python/README.md, "Webhooks").
    """

    def create(self, url: str, events: Sequence[str], *, description: Optional[str] = None, active: Optional[bool] = None) -> CreatedWebhook:
        """Subscribes ``url`` to ``events``; the answer carries ``signing_secret`` (``avw_…``) once."""
        body: JSONObject = {"url": url, "events": list(events)}
        body.update(_fields(description=description, active=active))
        return self._call("createWebhook", body=body)

    def list(self, *, page_size: Optional[int] = None) -> Iterator[Webhook]:
        """Every webhook of the tenant, page after page (a generator; never a secret)."""
        return self._pages("listWebhooks", "webhooks", page_size=page_size)

    def list_page(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> WebhookList:
        return self._call("listWebhooks", query={"limit": limit, "cursor": cursor})

    def get(self, webhook_id: str) -> Webhook:
        return self._call("getWebhook", webhook_id)

    def update(self, webhook_id: str, *, url: Any = UNSET, events: Any = UNSET, description: Any = UNSET, active: Any = UNSET) -> Webhook:
        """Changes what is given (``events``: the whole list); ``description=None`` removes it. 409 ``conflict`` on a concurrent change."""
        body = _nullable(url=url, events=list(events) if events is not UNSET else UNSET, description=description, active=active)
        return self._call("updateWebhook", webhook_id, body=body)

    def delete(self, webhook_id: str) -> None:
        """Deletes the webhook; its pending deliveries fail as ``webhook_deleted``."""
        self._call("deleteWebhook", webhook_id)

    def rotate_secret(self, webhook_id: str) -> WebhookSecret:
        """A new ``signing_secret`` (once); every later attempt is signed with it alone."""
        return self._call("rotateWebhookSecret", webhook_id)

    def deliveries(self, webhook_id: str, *, page_size: Optional[int] = None) -> Iterator[WebhookDelivery]:
        """The delivery log, newest first, page after page (a generator; never a payload)."""
        return self._pages("listWebhookDeliveries", "deliveries", webhook_id, page_size=page_size)

    def deliveries_page(self, webhook_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> WebhookDeliveryPage:
        return self._call("listWebhookDeliveries", webhook_id, query={"limit": limit, "cursor": cursor})

    def send_test_event(self, webhook_id: str) -> WebhookTestEvent:
        """Queues a ``webhook.test`` event to this webhook: ``{event_id, delivery_id, status: "queued"}``; see :meth:`deliveries`."""
        return self._call("sendWebhookTestEvent", webhook_id)


class HeadResponse(NamedTuple):
    """What a HEAD answers: the GET's status and headers (lower-case names), no body."""

    status: int
    headers: Dict[str, str]


class Redirect(NamedTuple):
    """What a browser route answers: a 3xx and where it sends the browser."""

    status: int
    location: str


class OAuthApi(_Api):
    """The end user's browser routes of the OAuth connect flow, without following their redirects.

    The end user's browser normally opens ``connect_url`` itself; these are for a server that
    forwards the browser, and for tests. An unknown, expired or used link or state raises
    ``ValidationError`` (400, ``http_400``) with the page's message.
    """

    def _redirect(self, operation_id: str, query: Mapping[str, Any]) -> Redirect:
        client = self._client
        op = OPERATIONS[operation_id]
        if client.on_operation is not None:
            client.on_operation(operation_id)
        status, headers, _raw = client._transport.exchange(op.method, op.path, query=query, idempotent=op.idempotent, redirect_ok=True)
        return Redirect(status, headers.get("location") or "")

    def open_connect_link(self, link: str) -> Redirect:
        """``GET /v1/oauth/connect?link=…``: the 302 to the provider's authorization endpoint."""
        return self._redirect("openConnectLink", {"link": link})

    def callback(self, *, state: Optional[str] = None, code: Optional[str] = None, iss: Optional[str] = None, error: Optional[str] = None) -> Redirect:
        """``GET /v1/oauth/callback`` (the provider's redirect back): the 302 to the profile's ``return_url``."""
        return self._redirect("oauthCallback", {"state": state, "code": code, "iss": iss, "error": error})


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
        self.webhooks = WebhooksApi(self)
        self.oauth = OAuthApi(self)

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

    def head(self, operation_id: str, *params: str, query: Optional[Mapping[str, Any]] = None) -> HeadResponse:
        """A HEAD operation of ``OPERATIONS`` (``"getAgentHead"``, ``"listAuditRecordsHead"``, …): the
        status and headers its GET would answer, without the body. An error status raises the
        usual ``AgentVaultError`` (code ``http_<status>``: a HEAD answer has no body to name it).

            vault.head("getAgentHead", "crm-bot").status   # 200, or NotFoundError
        """
        op = OPERATIONS.get(operation_id)
        if op is None or op.method != "HEAD":
            raise ValueError("%r is not a HEAD operation: one of %s" % (operation_id, ", ".join(k for k, v in OPERATIONS.items() if v.method == "HEAD")))
        if self.on_operation is not None:
            self.on_operation(operation_id)
        status, headers, _raw = self._transport.exchange("HEAD", path_of(op.path, params), query=query, idempotent=True)
        return HeadResponse(status, {k.lower(): v for k, v in headers.items()})

    def health(self) -> Health:
        return self._call("getHealth")

    def openapi(self) -> JSONObject:
        """The contract: ``GET /openapi.json``."""
        return self._call("getOpenApiDocument")
