"""Test support: the package on sys.path, a loopback-only network guard, a scripted loopback server.

Every test module imports this first. The guard is the Python side of test/support/network-guard.ts
(which covers the vitest process, not this child process): a connection to an address that is
not loopback, or a name lookup of anything but localhost, raises before a packet is sent.
"""

import ipaddress
import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


class OffMachineError(OSError):
    pass


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _check_address(address: Any) -> None:
    if isinstance(address, tuple) and address and isinstance(address[0], str) and not _is_loopback(address[0]):
        raise OffMachineError("test network guard: a connection to %s would leave this machine; tests talk to loopback only" % address[0])


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name != "localhost" and not _is_loopback(str(name)):
        raise OffMachineError("test network guard: looking up %r would leave this machine; tests talk to loopback only" % name)
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]


class Reply(NamedTuple):
    status: int = 200
    body: Union[bytes, str, Mapping[str, Any], None] = None
    headers: Sequence[Tuple[str, str]] = ()
    delay: float = 0.0


class Seen(NamedTuple):
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class ScriptedServer:
    """A loopback HTTP server answering each request with the next scripted reply (the last one repeats)."""

    def __init__(self, replies: Sequence[Reply]) -> None:
        self.replies: List[Reply] = list(replies)
        self.seen: List[Seen] = []
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                reply = server.replies[min(len(server.seen) - 1, len(server.replies) - 1)]
                if reply.delay:
                    threading.Event().wait(reply.delay)
                data = reply.body
                if isinstance(data, Mapping):
                    data = json.dumps(data)
                if isinstance(data, str):
                    data = data.encode("utf-8")
                data = data or b""
                try:
                    self.send_response(reply.status)
                    if isinstance(reply.body, Mapping):
                        self.send_header("Content-Type", "application/json")
                    for name, value in reply.headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "ScriptedServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def error_body(code: str, message: str, **extra: Any) -> Dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


class RecordingSleep:
    """Stands in for time.sleep: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: List[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def free_loopback_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def live_vault() -> Optional[Tuple[str, str]]:
    url = os.environ.get("AGENT_VAULT_URL")
    key = os.environ.get("AGENT_VAULT_API_KEY")
    return (url, key) if url and key else None
