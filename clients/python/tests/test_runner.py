"""The runner handler: verify → handle → answer, over WSGI and http.server; a grant's proxy call."""

import io
import json
import threading
import time
import unittest
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer
from typing import Any, Dict, List, Tuple

from _support import Reply, ScriptedServer, error_body

from agent_vault import RunError, RunnerHandler, RunRequest, RunResult, sign_payload

SECRET = "avs_" + "s" * 43
GRANT = "avg_" + "g" * 60
PASSWORD = "hunter2-very-secret"


def payload(**extra: Any) -> bytes:
    run = {"session_id": "sess-1", "agent_id": "crm-bot", "parameters": {"username": "alice", "password": PASSWORD}, "session": {"runs": 1}}
    run.update(extra)
    return json.dumps(run).encode("utf-8")


def wsgi_call(app: RunnerHandler, method: str, body: bytes, headers: Dict[str, str]) -> Tuple[int, Dict[str, Any]]:
    environ: Dict[str, Any] = {"REQUEST_METHOD": method, "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    seen: List[str] = []
    chunks = app(environ, lambda status, hdrs: seen.append(status))
    return int(seen[0].split()[0]), json.loads(b"".join(chunks))


class HandlerTests(unittest.TestCase):
    def setUp(self) -> None:
        self.runs: List[RunRequest] = []

    def handler(self, result: Any = None, raises: Any = None) -> RunnerHandler:
        def handle(run: RunRequest) -> Any:
            self.runs.append(run)
            if raises is not None:
                raise raises
            return result

        return RunnerHandler(SECRET, handle)

    def test_a_signed_run_is_handled_and_its_output_answered(self) -> None:
        body = payload()
        status, answer = wsgi_call(self.handler({"received": 2}), "POST", body, {"X-Agent-Vault-Signature": sign_payload(SECRET, body)})

        self.assertEqual(status, 200)
        self.assertEqual(answer, {"output": {"received": 2}})
        run = self.runs[0]
        self.assertEqual((run.session_id, run.agent_id, run.session, run.delivery), ("sess-1", "crm-bot", {"runs": 1}, "parameters"))
        self.assertEqual(run.parameters["password"], PASSWORD)

    def test_a_run_result_answers_output_session_and_error(self) -> None:
        body = payload()
        status, answer = wsgi_call(self.handler(RunResult(output=[1], session={"runs": 2})), "POST", body, {"X-Agent-Vault-Signature": sign_payload(SECRET, body)})
        self.assertEqual((status, answer), (200, {"output": [1], "session": {"runs": 2}}))

    def test_a_bad_tampered_or_stale_signature_is_401_and_never_handled(self) -> None:
        body = payload()
        stale = sign_payload(SECRET, body, int(time.time()) - 3600)
        for headers in ({}, {"X-Agent-Vault-Signature": sign_payload("avs_wrong", body)}, {"X-Agent-Vault-Signature": stale}):
            with self.subTest(headers=headers):
                status, answer = wsgi_call(self.handler("x"), "POST", body, headers)
                self.assertEqual(status, 401)
        tampered = payload(agent_id="other-bot")
        status, _ = wsgi_call(self.handler("x"), "POST", tampered, {"X-Agent-Vault-Signature": sign_payload(SECRET, body)})
        self.assertEqual(status, 401)
        self.assertEqual(self.runs, [])

    def test_other_methods_and_non_runs_are_refused(self) -> None:
        status, _ = wsgi_call(self.handler("x"), "GET", b"", {})
        self.assertEqual(status, 405)
        body = b'["not", "a", "run"]'
        status, _ = wsgi_call(self.handler("x"), "POST", body, {"X-Agent-Vault-Signature": sign_payload(SECRET, body)})
        self.assertEqual(status, 400)
        self.assertEqual(self.runs, [])

    def test_run_error_fails_the_run_with_its_message_and_session(self) -> None:
        body = payload()
        status, answer = wsgi_call(self.handler(raises=RunError("the CRM refused the login", session={"runs": 2})), "POST", body, {"X-Agent-Vault-Signature": sign_payload(SECRET, body)})
        self.assertEqual((status, answer), (200, {"error": "the CRM refused the login", "session": {"runs": 2}}))

    def test_any_other_exception_fails_the_run_without_its_text(self) -> None:
        body = payload()
        status, answer = wsgi_call(self.handler(raises=ValueError("login failed for password " + PASSWORD)), "POST", body, {"X-Agent-Vault-Signature": sign_payload(SECRET, body)})
        self.assertEqual((status, answer), (200, {"error": "runner failed: ValueError"}))
        self.assertNotIn(PASSWORD, json.dumps(answer))

    def test_reprs_show_no_value_grant_or_secret(self) -> None:
        run = RunRequest(json.loads(payload(grant=GRANT, proxy_url="http://127.0.0.1:1/v1/proxy")))
        for text in (repr(run), repr(RunnerHandler(SECRET, lambda r: None))):
            self.assertNotIn(PASSWORD, text)
            self.assertNotIn(GRANT, text)
            self.assertNotIn(SECRET, text)
        self.assertIn("password", repr(run))

    def test_http_server_serves_the_handler(self) -> None:
        runner = self.handler({"ok": True})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), runner.request_handler_class())
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        try:
            url = "http://127.0.0.1:%d/run" % httpd.server_address[1]
            body = payload()
            req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json", "X-Agent-Vault-Signature": sign_payload(SECRET, body)})
            with urllib.request.urlopen(req, timeout=5) as res:
                self.assertEqual((res.status, json.loads(res.read())), (200, {"output": {"ok": True}}))
            bad = urllib.request.Request(url, data=body, method="POST", headers={"X-Agent-Vault-Signature": "t=1,v1=" + "0" * 64})
            with self.assertRaises(urllib.error.HTTPError) as ctx:
                urllib.request.urlopen(bad, timeout=5)
            self.assertEqual(ctx.exception.code, 401)
            ctx.exception.close()
        finally:
            httpd.shutdown()
            httpd.server_close()


class GrantProxyTests(unittest.TestCase):
    def test_a_grant_run_calls_the_vault_proxy_with_the_grant_only(self) -> None:
        upstream_answer = {"status": 200, "headers": {}, "body": '{"items":[]}', "body_encoding": "utf8"}
        with ScriptedServer([Reply(200, upstream_answer)]) as vault:

            def handle(run: RunRequest) -> Any:
                res = run.proxy("get", "https://api.example.test/v1/items", headers={"Accept": "application/json"}, query={"q": "open"})
                return {"upstream_status": res["status"], "body": res["body"]}

            runner = RunnerHandler(SECRET, handle)
            body = payload(parameters={"query": "open"}, grant=GRANT, grant_expires_at="2026-12-06T15:00:00Z", proxy_url=vault.url + "/v1/proxy")
            status, answer = wsgi_call(runner, "POST", body, {"X-Agent-Vault-Signature": sign_payload(SECRET, body)})

            self.assertEqual((status, answer), (200, {"output": {"upstream_status": 200, "body": '{"items":[]}'}}))
            [call] = vault.seen
            self.assertEqual((call.method, call.path), ("POST", "/v1/proxy"))
            self.assertEqual(call.headers["authorization"], "Bearer " + GRANT)
            self.assertEqual(call.json(), {"method": "get", "url": "https://api.example.test/v1/items", "headers": {"Accept": "application/json"}, "query": {"q": "open"}})

    def test_a_refused_proxy_call_fails_the_run_with_the_vaults_code(self) -> None:
        with ScriptedServer([Reply(403, error_body("host_not_allowed", "host api.other.test is not in allowed_hosts"))]) as vault:
            runner = RunnerHandler(SECRET, lambda run: run.proxy("GET", "https://api.other.test/"))
            body = payload(grant=GRANT, proxy_url=vault.url + "/v1/proxy")
            status, answer = wsgi_call(runner, "POST", body, {"X-Agent-Vault-Signature": sign_payload(SECRET, body)})
            self.assertEqual((status, answer), (200, {"error": "the vault refused the runner's call: host_not_allowed (HTTP 403)"}))

    def test_a_grant_proxy_call_is_not_retried(self) -> None:
        with ScriptedServer([Reply(429, error_body("too_many_requests", "x"), [("Retry-After", "0")]), Reply(200, {"status": 200})]) as vault:
            run = RunRequest(json.loads(payload(grant=GRANT, proxy_url=vault.url + "/v1/proxy")))
            from agent_vault import RateLimitError

            with self.assertRaises(RateLimitError):
                run.proxy("POST", "https://api.example.test/orders", body={"n": 1})
            self.assertEqual(len(vault.seen), 1)

    def test_a_parameters_run_has_no_proxy(self) -> None:
        run = RunRequest(json.loads(payload()))
        with self.assertRaises(ValueError):
            run.proxy("GET", "https://api.example.test/")


if __name__ == "__main__":
    unittest.main()
