"""HTTP over ``urllib.request``: JSON in and out, timeouts, bounded retries, typed errors.

Retries (clients/python/README.md, "Retries"): only a request marked idempotent is sent again,
only after a 429 or a 503, at most ``max_retries`` times. The wait honours ``Retry-After``
(seconds or an HTTP date) plus a little jitter, never less than the vault asked for; without the
header it backs off exponentially with jitter. A ``Retry-After`` longer than ``max_retry_wait`` is
not waited for: the error is raised at once with ``retry_after`` set. Redirects are never followed
(urllib would forward the ``Authorization`` header to wherever the ``Location`` points).
"""

import email.utils
import http.client
import json
import platform
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

from ._version import __version__
from .errors import APIConnectionError, APITimeoutError, AgentVaultError, error_class_for, mask_credential

__all__ = ["Transport", "NO_BODY", "parse_retry_after", "RETRY_STATUSES"]

#: Statuses after which an idempotent request is sent again.
RETRY_STATUSES = (429, 503)


class _NoBody:
    def __repr__(self) -> str:
        return "NO_BODY"


#: The request has no body (distinct from a JSON ``null``).
NO_BODY: Any = _NoBody()

QueryValue = Union[str, int, float, bool, None]


def parse_retry_after(value: Optional[str], now: Optional[datetime] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    v = value.strip()
    if v.isdigit():
        return float(int(v))
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Makes a 3xx an ``HTTPError`` instead of a new request (which would carry the credential along)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


def _query_string(query: Optional[Mapping[str, QueryValue]]) -> str:
    if not query:
        return ""
    pairs = []
    for key, value in query.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        pairs.append((key, str(value)))
    return "?" + urllib.parse.urlencode(pairs) if pairs else ""


class Transport:
    """One vault origin and one credential (an API key, or a run grant for the proxy)."""

    def __init__(
        self,
        base_url: str,
        credential: Optional[str],
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 30.0,
        backoff_base: float = 0.5,
        user_agent: Optional[str] = None,
        use_env_proxies: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("base_url must be an absolute http(s) URL such as http://127.0.0.1:3000")
        if max_retries < 0 or max_retry_wait < 0 or timeout <= 0:
            raise ValueError("timeout must be positive; max_retries and max_retry_wait must not be negative")
        self.base_url = base_url.rstrip("/")
        self._credential = credential
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.backoff_base = backoff_base
        self.user_agent = user_agent or "agent-vault-python/%s (Python %s)" % (__version__, platform.python_version())
        self._sleep = sleep
        self._rand = rand
        handlers: list = [_NoRedirect()]
        if not use_env_proxies:
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return "Transport(base_url=%r, credential=%s)" % (self.base_url, mask_credential(self._credential))

    def retry_delay(self, attempt: int, retry_after: Optional[float]) -> Optional[float]:
        """Seconds to wait before retry number ``attempt + 1``; ``None``: do not retry (the wait asked is over the bound)."""
        if retry_after is not None:
            if retry_after > self.max_retry_wait:
                return None
            # Additive jitter: never earlier than the vault asked, and clients told the same
            # Retry-After do not all come back in the same instant.
            return retry_after + min(1.0, 0.1 + 0.1 * retry_after) * self._rand()
        ceiling = min(self.max_retry_wait, self.backoff_base * (2**attempt))
        return ceiling / 2 + (ceiling / 2) * self._rand()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, QueryValue]] = None,
        body: Any = NO_BODY,
        idempotent: bool,
        headers: Optional[Mapping[str, str]] = None,
    ) -> Any:
        """Sends the request; answers the parsed JSON (``None`` for an empty 2xx body) or raises an ``AgentVaultError``."""
        url = self.base_url + path + _query_string(query)
        data: Optional[bytes] = None
        sent: Dict[str, str] = {"Accept": "application/json", "User-Agent": self.user_agent}
        if self._credential:
            sent["Authorization"] = "Bearer " + self._credential
        if body is not NO_BODY:
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        attempt = 0
        while True:
            status, answer_headers, raw = self._send(method, url, path, data, sent)
            if 200 <= status < 300:
                return _decode(raw)
            error = _error_from(status, answer_headers, raw, method, path)
            if idempotent and status in RETRY_STATUSES and attempt < self.max_retries:
                delay = self.retry_delay(attempt, error.retry_after)
                if delay is not None:
                    self._sleep(delay)
                    attempt += 1
                    continue
            raise error

    def _send(self, method: str, url: str, path: str, data: Optional[bytes], headers: Mapping[str, str]) -> Tuple[int, Mapping[str, str], bytes]:
        req = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
        try:
            try:
                with self._opener.open(req, timeout=self.timeout) as res:
                    return res.status, res.headers, res.read()
            except urllib.error.HTTPError as err:
                try:
                    raw = err.read()
                finally:
                    err.close()
                return err.code, err.headers, raw
        except urllib.error.URLError as err:
            if isinstance(err.reason, (socket.timeout, TimeoutError)):
                raise self._timeout(method, path) from None
            raise self._unreachable(method, path, err.reason) from None
        except (socket.timeout, TimeoutError):
            raise self._timeout(method, path) from None
        except (OSError, http.client.HTTPException) as err:
            raise self._unreachable(method, path, err) from None

    def _origin(self) -> str:
        parts = urllib.parse.urlsplit(self.base_url)
        return "%s://%s" % (parts.scheme, parts.netloc)

    def _timeout(self, method: str, path: str) -> APITimeoutError:
        return APITimeoutError(
            "The vault at %s did not answer within %ss; raise the client's timeout, or check the vault" % (self._origin(), self.timeout),
            code="timeout",
            method=method,
            path=path,
        )

    def _unreachable(self, method: str, path: str, reason: object) -> APIConnectionError:
        why = reason.strerror if isinstance(reason, OSError) and reason.strerror else type(reason).__name__
        return APIConnectionError(
            "Could not reach the vault at %s (%s); check AGENT_VAULT_URL and that the vault is running" % (self._origin(), why),
            code="connection_error",
            method=method,
            path=path,
        )


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _error_from(status: int, headers: Mapping[str, str], raw: bytes, method: str, path: str) -> AgentVaultError:
    request_id = headers.get("x-request-id") if headers is not None else None
    retry_after = parse_retry_after(headers.get("retry-after")) if headers is not None else None
    code = "http_%d" % status
    message = "The vault answered HTTP %d without a JSON error body" % status
    details: Dict[str, Any] = {}
    try:
        parsed = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        parsed = None
    err = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(err, dict):
        if isinstance(err.get("code"), str):
            code = err["code"]
        if isinstance(err.get("message"), str):
            message = err["message"]
        details = {k: v for k, v in err.items() if k not in ("code", "message")}
    elif 300 <= status < 400:
        code = "redirect"
        message = "The vault answered with a redirect (HTTP %d), which the client does not follow; check the base URL" % status
    return error_class_for(status)(
        message,
        status=status,
        code=code,
        request_id=request_id,
        details=details,
        method=method,
        path=path,
        retry_after=retry_after,
    )


def quote(segment: str) -> str:
    """A path parameter as one URL path segment."""
    return urllib.parse.quote(segment, safe="")


def path_of(template: str, params: Sequence[str]) -> str:
    """``template`` with its ``{…}`` placeholders replaced, in order, by the quoted ``params``."""
    out = template
    for value in params:
        start = out.index("{")
        end = out.index("}", start)
        out = out[:start] + quote(value) + out[end + 1 :]
    return out
