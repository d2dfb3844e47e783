"""The SDK against a running vault: every operation of GET /openapi.json, called through the client.

Needs AGENT_VAULT_URL and AGENT_VAULT_API_KEY (an admin key) of a vault on loopback; the e2e test
test/e2e/sdk-python.e2e.test.ts starts one and runs these. The upstream API and the runners the
vault calls are Python servers on 127.0.0.1, served by this process.
"""

import io
import json
import os
import re
import secrets
import threading
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from contextlib import redirect_stdout
from typing import Any, Callable, Dict, List, Optional
from unittest import mock

from _support import HERE, Seen, live_vault

from agent_vault import (
    OPERATIONS,
    AgentVault,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RunError,
    RunnerHandler,
    RunRequest,
    ValidationError,
)
from agent_vault.client import AgentsApi

LIVE = live_vault()
SKIP_REASON = "set AGENT_VAULT_URL and AGENT_VAULT_API_KEY (test/e2e/sdk-python.e2e.test.ts does)"


class EchoUpstream:
    """A loopback API: answers 200 with JSON of what it received (so a test sees what the vault injected)."""

    def __init__(self) -> None:
        self.seen: List[Seen] = []
        upstream = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                upstream.seen.append(Seen(self.command, self.path, headers, body))
                data = json.dumps({"method": self.command, "path": self.path, "authorization": headers.get("authorization")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self.host = "127.0.0.1:%d" % self._httpd.server_address[1]
        self.url = "http://" + self.host
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class RunnerServer:
    """A webhook runner on loopback made of the SDK's RunnerHandler; the signing secret is set once the agent exists."""

    def __init__(self, handle: Callable[[RunRequest], Any]) -> None:
        self.runs: List[RunRequest] = []
        self.secret = ""
        server = self

        def recording(run: RunRequest) -> Any:
            server.runs.append(run)
            return handle(run)

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                cls = RunnerHandler(server.secret, recording).request_handler_class()
                cls.do_POST(self)  # type: ignore[arg-type]

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d/run" % self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def new_id(prefix: str) -> str:
    return "%s-%s" % (prefix, secrets.token_hex(4))


@unittest.skipUnless(LIVE, SKIP_REASON)
class LiveVaultTests(unittest.TestCase):
    vault: AgentVault
    called: Dict[str, int]
    upstream: EchoUpstream
    servers: List[Any]

    @classmethod
    def setUpClass(cls) -> None:
        assert LIVE is not None
        url, key = LIVE
        host = urllib.parse.urlsplit(url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError("these tests talk to a vault on loopback only, not %s" % host)
        cls.vault = AgentVault(url, key, use_env_proxies=False, timeout=20)
        cls.called = {}
        cls.vault.on_operation = lambda op: cls.called.__setitem__(op, cls.called.get(op, 0) + 1)
        cls.upstream = EchoUpstream()
        cls.servers = [cls.upstream]

    @classmethod
    def tearDownClass(cls) -> None:
        for server in cls.servers:
            server.close()

    def runner(self, handle: Callable[[RunRequest], Any]) -> RunnerServer:
        server = RunnerServer(handle)
        self.servers.append(server)
        return server

    def agent(self, runner_url: str = "http://127.0.0.1:9/run", **kw: Any) -> str:
        agent_id = new_id("py")
        created = self.vault.agents.create("Python SDK agent", ["username", "password", "query"], runner_url, agent_id=agent_id, **kw)
        self.assertEqual(created["agent_id"], agent_id)
        self.assertTrue(created["runner_signing_secret"].startswith("avs_"))
        self.secret_of = created["runner_signing_secret"]
        return agent_id

    def member(self) -> Dict[str, Any]:
        created = self.vault.api_keys.create(new_id("py-member"), role="member")
        client = AgentVault(self.vault.url, created["api_key"], use_env_proxies=False)
        client.on_operation = self.vault.on_operation
        return {"key_id": created["key_id"], "client": client}

    # -- meta ---------------------------------------------------------------------------------

    def test_health_and_the_document_match_the_clients_operation_table(self) -> None:
        self.assertEqual(self.vault.health(), {"status": "ok"})
        doc = self.vault.openapi()
        served = {}
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                if isinstance(op, dict) and "operationId" in op:
                    served[op["operationId"]] = (method.upper(), path)
        self.assertEqual({k: (v.method, v.path) for k, v in OPERATIONS.items()}, served)
        for op in OPERATIONS.values():
            target: Any = self.vault
            for part in op.sdk.split("."):
                target = getattr(target, part)
            self.assertTrue(callable(target), op.sdk)

    # -- agents -------------------------------------------------------------------------------

    def test_agents_create_list_get_update_rotate_delete(self) -> None:
        ids = [self.agent() for _ in range(3)]
        first_secret = self.secret_of
        before = self.called.get("listAgents", 0)

        listed = [a["agent_id"] for a in self.vault.agents.list(page_size=1)]

        self.assertTrue(set(ids) <= set(listed))
        self.assertGreater(self.called["listAgents"] - before, 3)  # one page per agent, at least
        page = self.vault.agents.list_page(limit=1)
        self.assertEqual(len(page["agents"]), 1)
        self.assertIn("next_cursor", page)

        self.assertEqual(self.vault.agents.get(ids[2])["input_args"][0]["name"], "username")
        updated = self.vault.agents.update(ids[2], "Renamed", [{"name": "username", "required": True}], "http://127.0.0.1:9/run", description="now described")
        self.assertEqual((updated["name"], updated["description"]), ("Renamed", "now described"))
        rotated = self.vault.agents.rotate_signing_secret(ids[2])
        self.assertTrue(rotated["runner_signing_secret"].startswith("avs_"))
        self.assertNotEqual(rotated["runner_signing_secret"], first_secret)

        self.vault.agents.delete(ids[2])
        with self.assertRaises(NotFoundError) as ctx:
            self.vault.agents.get(ids[2])
        self.assertEqual(ctx.exception.code, "agent_not_found")

    def test_an_agent_with_profiles_is_deleted_only_with_force(self) -> None:
        agent_id = self.agent()
        self.vault.profiles.create_compatible(agent_id, "alice", {"username": "alice", "password": "pw"})

        with self.assertRaises(ConflictError) as ctx:
            self.vault.agents.delete(agent_id)
        self.assertEqual(ctx.exception.code, "agent_has_profiles")

        self.vault.agents.delete(agent_id, force=True)
        with self.assertRaises(NotFoundError):
            self.vault.agents.get(agent_id)

    # -- auth profiles ------------------------------------------------------------------------

    def test_compatible_create_and_upsert(self) -> None:
        agent_id = self.agent()
        token = self.vault.profiles.create_compatible(agent_id, "alice", {"username": "alice", "password": "s3cret"})["auth_token"]
        self.assertTrue(token.startswith("avt_"))
        with self.assertRaises(ConflictError) as ctx:
            self.vault.profiles.create_compatible(agent_id, "alice", {"username": "alice", "password": "x"})
        self.assertEqual(ctx.exception.code, "profile_exists")

        updated = self.vault.profiles.upsert(agent_id, {"password": "n3w"}, auth_token=token, should_save_session=True)
        self.assertEqual((updated["auth_token"], updated["name"], updated["type"]), (token, "alice", "update"))
        created = self.vault.profiles.upsert(agent_id, {"username": "bob", "password": "pw"}, name="bob")
        self.assertEqual(created["type"], "create")
        replaced = self.vault.profiles.upsert(agent_id, {"username": "bob", "password": "pw2"}, name="bob")
        self.assertEqual(replaced["type"], "replace")
        self.assertNotEqual(replaced["auth_token"], created["auth_token"])

        with self.assertRaises(NotFoundError) as ctx2:
            self.vault.profiles.upsert(agent_id, {"password": "x"}, auth_token=created["auth_token"])
        self.assertEqual(ctx2.exception.code, "profile_not_found")

    def test_native_profiles_list_get_put_patch_test_proxy_usage_rotate_delete(self) -> None:
        agent_id = self.agent()
        secret_value = "tok-" + secrets.token_hex(12)
        created = self.vault.profiles.create(agent_id, "api", {"token": secret_value}, auth_type="bearer", allowed_hosts=[self.upstream.host], allowed_methods=["GET", "POST"])
        token = created["auth_token"]
        self.assertEqual((created["type"], created["profile"]["auth_type"]), ("create", "bearer"))
        self.assertNotIn(secret_value, json.dumps(created["profile"]))
        with self.assertRaises(ConflictError):
            self.vault.profiles.create(agent_id, "api", {"token": "x"}, auth_type="bearer")
        self.vault.profiles.create(agent_id, "other", {"token": "t2"}, auth_type="bearer")

        names = [p["name"] for p in self.vault.profiles.list(agent_id, page_size=1)]
        self.assertEqual(sorted(names), ["api", "other"])
        self.assertEqual(len(self.vault.profiles.list_page(agent_id, limit=1)["profiles"]), 1)
        self.assertEqual(self.vault.profiles.get(agent_id, "api")["allowed_hosts"], [self.upstream.host])

        put = self.vault.profiles.put(agent_id, "api", {"token": secret_value}, auth_token=token)
        self.assertEqual((put["type"], put["auth_token"]), ("update", token))

        patched = self.vault.profiles.patch(agent_id, "api", description="billing API", allowed_methods=None)
        self.assertEqual(patched["description"], "billing API")
        self.assertNotIn("allowed_methods", patched)
        self.assertNotIn("description", self.vault.profiles.patch(agent_id, "api", description=None))

        tested = self.vault.profiles.test(agent_id, "api", token, url=self.upstream.url + "/ping")
        self.assertTrue(tested["ok"])
        self.assertEqual(tested["status"], 200)

        answer = self.vault.proxy(agent_id, token, "GET", self.upstream.url + "/v1/items", query={"q": "open"})
        self.assertEqual(answer["status"], 200)
        self.assertEqual(self.upstream.seen[-1].headers["authorization"], "Bearer " + secret_value)
        self.assertNotIn(secret_value, answer["body"])  # the echo of the injected header comes back redacted
        self.assertIn("[REDACTED]", answer["body"])
        with self.assertRaises(PermissionDeniedError) as denied:
            self.vault.proxy(agent_id, token, "GET", "http://127.0.0.2:1/elsewhere")
        self.assertEqual(denied.exception.code, "host_not_allowed")

        usage = self.vault.profiles.usage(agent_id, "api")
        self.assertGreaterEqual(usage["use_count"], 2)
        self.assertTrue(usage["uses"])

        rotated = self.vault.profiles.rotate(agent_id, "api", token, expires_in_hours=24)
        self.assertNotEqual(rotated["auth_token"], token)
        self.assertEqual(rotated["generation"], self.vault.profiles.get(agent_id, "api")["generation"])
        self.assertIn("token_expires_at", rotated)
        with self.assertRaises(NotFoundError):
            self.vault.proxy(agent_id, token, "GET", self.upstream.url + "/")
        self.assertNotIn("token_expires_at", self.vault.profiles.rotate(agent_id, "api", rotated["auth_token"], expires_in_hours=None))

        with self.assertRaises(ConflictError) as in_use:
            self.vault.profiles.delete(agent_id, "api")
        self.assertEqual(in_use.exception.code, "profile_in_use")
        self.assertIn("usage", in_use.exception.details)
        self.vault.profiles.delete(agent_id, "api", force=True)
        with self.assertRaises(NotFoundError) as gone:
            self.vault.profiles.get(agent_id, "api")
        self.assertEqual(gone.exception.code, "profile_not_found")

    def test_share_and_unshare_with_a_member_key(self) -> None:
        agent_id = self.agent()
        self.vault.profiles.create_compatible(agent_id, "alice", {"username": "alice", "password": "pw"})
        member = self.member()
        with self.assertRaises(NotFoundError):
            member["client"].profiles.get(agent_id, "alice")

        shared = self.vault.profiles.share(agent_id, "alice", member["key_id"], "read")
        self.assertEqual(shared["visibility"], "shared")
        self.assertEqual(shared["grants"], [{"principal": member["key_id"], "permission": "read"}])
        self.assertEqual(member["client"].profiles.get(agent_id, "alice")["name"], "alice")
        with self.assertRaises(PermissionDeniedError) as ctx:
            member["client"].profiles.patch(agent_id, "alice", active=False)
        self.assertEqual(ctx.exception.code, "forbidden")

        unshared = self.vault.profiles.unshare(agent_id, "alice", member["key_id"])
        self.assertEqual(unshared["visibility"], "private")
        with self.assertRaises(NotFoundError):
            member["client"].profiles.get(agent_id, "alice")

    # -- runs -----------------------------------------------------------------------------------

    def test_runs_with_parameters_delivery_sync_async_and_the_alias(self) -> None:
        runner = self.runner(lambda run: {"received_fields": sorted(run.parameters), "runs": (run.session or {}).get("runs", 0) + 1})
        agent_id = self.agent(runner.url)
        runner.secret = self.secret_of
        token = self.vault.profiles.create_compatible(agent_id, "alice", {"username": "alice", "password": "s3cret"})["auth_token"]

        sync = self.vault.runs.run_agent(agent_id, auth_token=token, parameters={"query": "open deals"}, run_async=False)
        self.assertEqual(sync["agent_output"], {"received_fields": ["password", "query", "username"], "runs": 1})
        self.assertEqual(runner.runs[-1].parameters["password"], "s3cret")

        started = self.vault.run_agent(agent_id, auth_token=token, parameters={"query": "x"})
        done = self.vault.runs.wait(started["session_id"], timeout=20)
        self.assertEqual(done["status"], "succeeded")
        self.assertEqual(self.vault.runs.status(started["session_id"])["session_id"], started["session_id"])

        alias = self.vault.runs.run_agent(agent_id, auth_token=token, run_async=False, alias=True)
        self.assertIn("received_fields", alias["agent_output"])
        with self.assertRaises(NotFoundError) as ctx:
            self.vault.runs.status("no-such-run")
        self.assertEqual(ctx.exception.code, "run_not_found")

    def test_a_run_error_reaches_the_runs_error_message(self) -> None:
        def fail(run: RunRequest) -> Any:
            raise RunError("the CRM refused the login")

        runner = self.runner(fail)
        agent_id = self.agent(runner.url)
        runner.secret = self.secret_of
        token = self.vault.profiles.create_compatible(agent_id, "alice", {"username": "alice", "password": "pw"})["auth_token"]

        answer = self.vault.runs.run_agent(agent_id, auth_token=token, run_async=False)

        self.assertEqual(answer["error_message"], "the CRM refused the login")

    def test_a_runner_with_a_stale_secret_refuses_the_vaults_call(self) -> None:
        runner = self.runner(lambda run: {"ok": True})
        agent_id = self.agent(runner.url)
        runner.secret = self.secret_of
        token = self.vault.profiles.create_compatible(agent_id, "alice", {"username": "alice", "password": "pw"})["auth_token"]
        self.vault.agents.rotate_signing_secret(agent_id)  # the runner still holds the old secret

        answer = self.vault.runs.run_agent(agent_id, auth_token=token, run_async=False)

        self.assertIn("HTTP 401", answer["error_message"])
        self.assertEqual(runner.runs, [])

    def test_a_proxy_delivery_run_calls_the_upstream_through_the_vault_with_its_grant(self) -> None:
        upstream = self.upstream

        def handle(run: RunRequest) -> Any:
            res = run.proxy("GET", upstream.url + "/v1/items")
            return {"delivery": run.delivery, "upstream_status": res["status"], "redacted": "[REDACTED]" in res["body"], "param_names": sorted(run.parameters)}

        runner = self.runner(handle)
        agent_id = self.agent(runner.url, credential_delivery="proxy")
        runner.secret = self.secret_of
        secret_value = "tok-" + secrets.token_hex(12)
        token = self.vault.profiles.create(agent_id, "api", {"token": secret_value}, auth_type="bearer", allowed_hosts=[upstream.host])["auth_token"]

        answer = self.vault.runs.run_agent(agent_id, auth_token=token, parameters={"query": "q"}, run_async=False)

        self.assertEqual(answer["agent_output"], {"delivery": "proxy", "upstream_status": 200, "redacted": True, "param_names": ["query"]})
        self.assertEqual(upstream.seen[-1].headers["authorization"], "Bearer " + secret_value)
        run = runner.runs[-1]
        self.assertTrue(run.grant and run.grant.startswith("avg_"))
        self.assertNotIn(secret_value, json.dumps(run.parameters))
        # The grant died with its run.
        with self.assertRaises(AuthenticationError) as ctx:
            run.proxy("GET", upstream.url + "/v1/items")
        self.assertEqual(ctx.exception.code, "invalid_grant")

    # -- audit and API keys -------------------------------------------------------------------

    def test_audit_lists_a_profiles_history_page_by_page(self) -> None:
        agent_id = self.agent()
        token = self.vault.profiles.create_compatible(agent_id, "alice", {"username": "alice", "password": "pw"})["auth_token"]
        self.vault.profiles.upsert(agent_id, {"password": "pw2"}, auth_token=token)

        actions = [r["action"] for r in self.vault.audit.list(agent_id=agent_id, profile="alice", page_size=1)]

        self.assertEqual(actions, ["update", "create"])  # newest first
        page = self.vault.audit.list_page(agent_id=agent_id, action="agent_create", limit=5)
        self.assertEqual([r["action"] for r in page["records"]], ["agent_create"])

    def test_api_keys_create_list_revoke_and_what_a_member_may_not_do(self) -> None:
        member = self.member()
        listed = list(self.vault.api_keys.list(page_size=1))
        mine = [k for k in listed if k["key_id"] == member["key_id"]]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["role"], "member")
        self.assertNotIn("api_key", mine[0])
        self.assertTrue(self.vault.api_keys.list_page(limit=1)["api_keys"])

        with self.assertRaises(PermissionDeniedError) as ctx:
            member["client"].api_keys.list_page()
        self.assertEqual(ctx.exception.code, "forbidden")

        self.vault.api_keys.revoke(member["key_id"])
        with self.assertRaises(AuthenticationError):
            list(member["client"].agents.list())
        with self.assertRaises(NotFoundError) as gone:
            self.vault.api_keys.revoke(member["key_id"])
        self.assertEqual(gone.exception.code, "api_key_not_found")

    def test_the_vaults_errors_arrive_typed_with_their_details(self) -> None:
        with self.assertRaises(AuthenticationError) as bad_key:
            AgentVault(self.vault.url, "avk_" + "x" * 43, use_env_proxies=False).agents.list_page()
        self.assertEqual(bad_key.exception.status, 401)
        self.assertNotIn("x" * 43, str(bad_key.exception))

        with self.assertRaises(ValidationError) as unknown:
            self.vault._call("createAgent", body={"nmae": "typo", "name": "A", "input_args": [], "runner": {"type": "webhook", "url": "http://127.0.0.1:9/run"}})
        self.assertEqual(unknown.exception.code, "unknown_field")
        self.assertEqual(unknown.exception.details["unknown_fields"][0]["field"], "nmae")

        with self.assertRaises(ValidationError) as invalid:
            self.vault.agents.create("", [], "http://127.0.0.1:9/run")
        self.assertEqual(invalid.exception.code, "validation_error")

        with self.assertRaises(NotFoundError) as missing:
            self.vault.profiles.get(new_id("py-none"), "nobody")
        self.assertEqual(missing.exception.code, "agent_not_found")

    # -- the README ------------------------------------------------------------------------------

    def test_the_readme_python_quick_start_runs_as_written(self) -> None:
        with open(os.path.join(HERE, "..", "..", "..", "README.md"), encoding="utf-8") as f:
            readme = f.read()
        found = re.search(r"```python\n(.*?)```", readme[readme.index("## Python SDK") :], re.S)
        assert found is not None
        block = found.group(1)
        self.assertLessEqual(len(block.strip().splitlines()), 15)
        runner = self.runner(lambda run: {"received_fields": sorted(run.parameters)})
        # The harness's changes: a runner of this test for the one on port 4000, a fresh agent id
        # for crm-bot, and the runner learns the signing secret when the agent is created.
        code = block.replace("http://127.0.0.1:4000/run", runner.url).replace('"crm-bot"', '"%s"' % new_id("py-readme"))
        real_create = AgentsApi.create

        def create(api: AgentsApi, *args: Any, **kwargs: Any) -> Any:
            created = real_create(api, *args, **kwargs)
            runner.secret = created["runner_signing_secret"]
            return created

        out = io.StringIO()
        with mock.patch.object(AgentsApi, "create", create), redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the README's own code

        self.assertEqual(out.getvalue().splitlines(), ["{'received_fields': ['password', 'query', 'username']}", "alice 1", "404 profile_not_found"])

    # -- last: the run covered every operation ------------------------------------------------

    def test_zz_every_operation_of_the_document_was_called(self) -> None:
        """Runs last (unittest sorts by name); meaningful only after the whole class ran."""
        others = [name for name in unittest.TestLoader().getTestCaseNames(type(self)) if name != "test_zz_every_operation_of_the_document_was_called"]
        if not all(name in _ran for name in others):
            self.skipTest("run the whole class to check coverage")
        self.assertEqual(sorted(set(OPERATIONS) - set(self.called)), [])

    def run(self, result: Optional[unittest.TestResult] = None) -> Optional[unittest.TestResult]:  # type: ignore[override]
        _ran.add(self._testMethodName)
        return super().run(result)


_ran: set = set()


if __name__ == "__main__":
    unittest.main()
