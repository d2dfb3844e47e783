"""Runner helpers: verify the vault's signed calls, handle a run, answer it.

A ``webhook`` runner gets ``POST`` with ``{session_id, agent_id, parameters, session}`` (and,
for an agent with ``credential_delivery: "proxy"``, ``grant``, ``grant_expires_at``,
``proxy_url``) and the header::

    X-Agent-Vault-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(signing secret, t + "." + raw body)>

(docs/api.md, "Runners"; the vault's side is shared/runs/signature.ts). It answers
``{output?, session?, error?}`` with a 2xx JSON object.

:class:`RunnerHandler` does verify → parse → handle → answer; use it as a WSGI application, from
``http.server`` (:meth:`RunnerHandler.request_handler_class`), or from any framework through
:meth:`RunnerHandler.handle`. With proxy delivery, :meth:`RunRequest.proxy` calls the vault's
proxy with the run grant: the runner never holds the credential.
"""

import hashlib
import hmac
import json
import re
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Type, Union

from ._transport import Transport
from ._unset import UNSET
from .errors import AgentVaultError, mask_credential
from .types import ProxyResponse

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "SIGNATURE_HEADER",
    "RunError",
    "RunRequest",
    "RunResult",
    "RunnerHandler",
    "RunnerResponse",
    "sign_payload",
    "verify_signature",
]

#: The header the vault signs its runner calls with.
SIGNATURE_HEADER = "X-Agent-Vault-Signature"
#: A signature older (or further in the future) than this is refused: a replayed call.
DEFAULT_TOLERANCE_SECONDS = 300
#: The largest run payload a handler reads (the vault's request bodies are at most 256 KiB, plus the session).
MAX_RUN_BYTES = 2 * 1024 * 1024

_T_RE = re.compile(r"^\d{1,12}$")
_V1_RE = re.compile(r"^[0-9a-f]{64}$")

Body = Union[bytes, str]


def _bytes(raw: Body) -> bytes:
    return raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)


def _mac(secret: str, timestamp: int, raw_body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + raw_body, hashlib.sha256).hexdigest()


def sign_payload(secret: str, raw_body: Body, timestamp: Optional[int] = None) -> str:
    """The header value the vault sends for ``raw_body`` at ``timestamp`` (unix seconds; default now)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return "t=%d,v1=%s" % (t, _mac(secret, t, _bytes(raw_body)))


def verify_signature(
    secret: str,
    raw_body: Body,
    header: Optional[str],
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: Optional[float] = None,
) -> bool:
    """Whether ``header`` signs ``raw_body`` (the exact bytes received, before any JSON parsing) with ``secret``.

    False for a missing or malformed header, a wrong MAC, or a timestamp more than
    ``tolerance_seconds`` away from ``now`` (a replay). MACs are compared with ``hmac.compare_digest``.
    """
    if not header or not secret:
        return False
    t: Optional[int] = None
    candidates: List[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and _T_RE.match(value):
            t = int(value)
        elif key == "v1" and _V1_RE.match(value):
            candidates.append(value)
    current = time.time() if now is None else now
    if t is None or not candidates or abs(current - t) > tolerance_seconds:
        return False
    expected = _mac(secret, t, _bytes(raw_body))
    ok = False
    for candidate in candidates:  # every candidate is compared: no early exit on a match
        ok = hmac.compare_digest(candidate, expected) or ok
    return ok


class RunError(Exception):
    """Raise from a handler to fail the run with ``message`` (the run's ``error_message``); ``session`` is still saved."""

    def __init__(self, message: str, *, session: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.session = session


class RunResult(NamedTuple):
    """A handler's full answer. Returning any other value answers it as ``output``."""

    output: Any = None
    session: Any = None
    error: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        if self.output is not None:
            out["output"] = self.output
        if self.session is not None:
            out["session"] = self.session
        if self.error is not None:
            out["error"] = self.error
        return out


class RunRequest:
    """One run as the vault sent it. Its repr shows parameter names, never values, nor the grant."""

    def __init__(self, payload: Mapping[str, Any], *, proxy_timeout: float = 20.0) -> None:
        self.session_id: str = payload["session_id"]
        self.agent_id: str = payload["agent_id"]
        self.parameters: Dict[str, Any] = dict(payload.get("parameters") or {})
        self.session: Any = payload.get("session")
        self.grant: Optional[str] = payload.get("grant")
        self.grant_expires_at: Optional[str] = payload.get("grant_expires_at")
        self.proxy_url: Optional[str] = payload.get("proxy_url")
        self._proxy_timeout = proxy_timeout

    @property
    def delivery(self) -> str:
        """``proxy`` when the run carries a grant (no credential value), else ``parameters``."""
        return "proxy" if self.grant and self.proxy_url else "parameters"

    def __repr__(self) -> str:
        return "RunRequest(session_id=%r, agent_id=%r, parameters=<%s>, delivery=%r, grant=%s)" % (
            self.session_id,
            self.agent_id,
            ", ".join(sorted(self.parameters)),
            self.delivery,
            mask_credential(self.grant),
        )

    def proxy(
        self,
        method: str,
        url: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        query: Optional[Mapping[str, Union[str, Sequence[str]]]] = None,
        body: Any = UNSET,
        timeout: Optional[float] = None,
    ) -> ProxyResponse:
        """Sends ``method url`` through the vault's proxy with this run's grant: the vault injects the credential.

        Answers ``{status, headers, body, body_encoding}`` (secrets redacted); raises an
        ``AgentVaultError`` when the vault refuses (``PermissionDeniedError`` for a host outside
        ``allowed_hosts``, ``AuthenticationError`` ``invalid_grant`` once the run has ended, …).
        Not retried: the upstream call may not be idempotent.
        """
        if not self.grant or not self.proxy_url:
            raise ValueError('this run carries no grant: the agent\'s credential_delivery is "parameters"; its credentials are in run.parameters')
        req: Dict[str, Any] = {"method": method, "url": url}
        if headers is not None:
            req["headers"] = dict(headers)
        if query is not None:
            req["query"] = dict(query)
        if body is not UNSET:
            req["body"] = body
        transport = Transport(self.proxy_url, self.grant, timeout=timeout or self._proxy_timeout, max_retries=0)
        return transport.request("POST", "", body=req, idempotent=False)


class RunnerResponse(NamedTuple):
    status: int
    headers: List[Tuple[str, str]]
    body: bytes


Handler = Callable[[RunRequest], Any]


def _answer(status: int, payload: Mapping[str, Any]) -> RunnerResponse:
    data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return RunnerResponse(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))], data)


class RunnerHandler:
    """Verify → handle → answer, for the vault's runner calls.

    ``handler(run)`` gets a :class:`RunRequest` and returns the run's ``output`` (any JSON value),
    or a :class:`RunResult` (output, session, error), or raises :class:`RunError`. Any other
    exception fails the run with ``runner failed: <ExceptionClass>`` (its text is not sent: it
    might quote a credential); an ``AgentVaultError`` from :meth:`RunRequest.proxy` fails it with
    the vault's code and status.

    Answers: 405 for a method other than POST, 401 for a bad or stale signature (nothing is
    parsed), 413 for a body over ``max_body_bytes``, 400 for a body that is not a run, else 200.
    """

    def __init__(
        self,
        signing_secret: str,
        handler: Handler,
        *,
        tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
        max_body_bytes: int = MAX_RUN_BYTES,
        proxy_timeout: float = 20.0,
    ) -> None:
        if not signing_secret:
            raise ValueError("signing_secret is the agent's runner_signing_secret (avs_…), returned by agents.create")
        self._secret = signing_secret
        self._handler = handler
        self.tolerance_seconds = tolerance_seconds
        self.max_body_bytes = max_body_bytes
        self.proxy_timeout = proxy_timeout

    def __repr__(self) -> str:
        return "RunnerHandler(signing_secret=%s, handler=%r)" % (mask_credential(self._secret), self._handler)

    def handle(self, method: str, headers: Mapping[str, str], raw_body: Body) -> RunnerResponse:
        """The framework-neutral core: the request's method, headers (any case) and raw body → the answer."""
        if method.upper() != "POST":
            return _answer(405, {"error": "method not allowed: the vault POSTs runs"})
        signature = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), None)
        raw = _bytes(raw_body)
        if len(raw) > self.max_body_bytes:
            return _answer(413, {"error": "run payload too large"})
        if not verify_signature(self._secret, raw, signature, tolerance_seconds=self.tolerance_seconds):
            return _answer(401, {"error": "invalid or stale signature"})
        try:
            payload = json.loads(raw.decode("utf-8"))
            if not isinstance(payload, dict):
                raise ValueError("not an object")
            run = RunRequest(payload, proxy_timeout=self.proxy_timeout)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return _answer(400, {"error": "the body is not a run: {session_id, agent_id, parameters, session}"})
        try:
            result = self._handler(run)
        except RunError as err:
            return _answer(200, RunResult(session=err.session, error=err.message).to_json())
        except AgentVaultError as err:
            return _answer(200, {"error": "the vault refused the runner's call: %s (HTTP %s)" % (err.code, err.status)})
        except Exception as err:  # noqa: BLE001 - any handler fault fails the run, without its text
            return _answer(200, {"error": "runner failed: %s" % type(err).__name__})
        answer = result.to_json() if isinstance(result, RunResult) else ({"output": result} if result is not None else {})
        return _answer(200, answer)

    # WSGI (PEP 3333): RunnerHandler(...) is a WSGI application.
    def __call__(self, environ: Mapping[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.max_body_bytes:
            res = _answer(413, {"error": "run payload too large"})
        else:
            raw = environ["wsgi.input"].read(length) if length > 0 else b""
            headers = {k[5:].replace("_", "-"): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
            res = self.handle(str(environ.get("REQUEST_METHOD", "GET")), headers, raw)
        start_response("%d %s" % (res.status, _REASONS.get(res.status, "")), res.headers)
        return [res.body]

    def request_handler_class(self) -> Type[BaseHTTPRequestHandler]:
        """A ``BaseHTTPRequestHandler`` subclass for ``http.server`` (e.g. ``ThreadingHTTPServer(addr, cls)``)."""
        runner = self

        class _RunnerRequestHandler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = 0
                if length > runner.max_body_bytes:
                    res = _answer(413, {"error": "run payload too large"})
                else:
                    raw = self.rfile.read(length) if length > 0 else b""
                    res = runner.handle(self.command, dict(self.headers.items()), raw)
                self.send_response(res.status)
                for name, value in res.headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(res.body)

            do_POST = _serve
            do_GET = _serve
            do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass  # no request lines on stderr; a framework's own logging applies instead

        return _RunnerRequestHandler


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 405: "Method Not Allowed", 413: "Payload Too Large"}
