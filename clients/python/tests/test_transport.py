"""Retries, Retry-After, timeouts, redirects and typed errors, against scripted loopback servers."""

import unittest
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from _support import RecordingSleep, Reply, ScriptedServer, error_body, free_loopback_port

import agent_vault
from agent_vault import (
    AgentVault,
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
    parse_retry_after,
)

KEY = "avk_" + "k" * 43
OK_AGENT = Reply(200, {"agent_id": "a1", "name": "A"})


def client(server: ScriptedServer, **kw):  # type: ignore[no-untyped-def]
    sleep = RecordingSleep()
    kw.setdefault("use_env_proxies", False)
    return AgentVault(server.url, KEY, sleep=sleep, **kw), sleep


class HeadAndBrowserRouteTests(unittest.TestCase):
    def test_head_answers_status_and_headers_and_a_bodyless_error_says_so(self) -> None:
        with ScriptedServer([Reply(200, None, [("X-Request-Id", "r-1")]), Reply(404, None), Reply(503, None, [("Retry-After", "0")]), Reply(200, None)]) as srv:
            vault, sleep = client(srv)

            answer = vault.head("getAgentHead", "a1")
            with self.assertRaises(NotFoundError) as missing:
                vault.head("getAgentHead", "a2")
            retried = vault.head("listAgentsHead", query={"limit": 1})

            self.assertEqual((answer.status, answer.headers["x-request-id"]), (200, "r-1"))
            self.assertEqual([(s.method, s.path) for s in srv.seen], [("HEAD", "/v1/agents/a1"), ("HEAD", "/v1/agents/a2"), ("HEAD", "/v1/agents?limit=1"), ("HEAD", "/v1/agents?limit=1")])
            self.assertEqual(missing.exception.code, "http_404")
            self.assertIn("HEAD", str(missing.exception))
            self.assertEqual((retried.status, len(sleep.waits)), (200, 1))
            with self.assertRaises(ValueError):
                vault.head("getAgent", "a1")

    def test_a_browser_route_answers_its_redirect_and_its_html_page_message(self) -> None:
        page = "<!doctype html><html><body><main><h1>This link cannot be used</h1><p>This connect link has expired &#38; cannot be used.</p></main></body></html>"
        with ScriptedServer([Reply(302, None, [("Location", "https://provider.example/authorize?state=s")]), Reply(400, page, [("Content-Type", "text/html")])]) as srv:
            vault, _sleep = client(srv)

            opened = vault.oauth.open_connect_link("avc_link")
            with self.assertRaises(ValidationError) as refused:
                vault.oauth.callback(state="avs_x", code="c")

            self.assertEqual(opened, agent_vault.Redirect(302, "https://provider.example/authorize?state=s"))
            self.assertEqual(srv.seen[0].path, "/v1/oauth/connect?link=avc_link")
            self.assertEqual(srv.seen[1].path, "/v1/oauth/callback?state=avs_x&code=c")
            self.assertEqual(refused.exception.code, "http_400")
            self.assertIn("This connect link has expired & cannot be used.", str(refused.exception))

    def test_any_other_route_still_refuses_to_follow_a_redirect(self) -> None:
        with ScriptedServer([Reply(302, None, [("Location", "http://127.0.0.1:9/elsewhere")])]) as srv:
            vault, _sleep = client(srv)
            with self.assertRaises(AgentVaultError) as err:
                vault.agents.get("a1")
            self.assertEqual(err.exception.code, "redirect")


class RetryTests(unittest.TestCase):
    def test_a_get_is_retried_after_429_waiting_at_least_retry_after(self) -> None:
        with ScriptedServer([Reply(429, error_body("too_many_requests", "slow down"), [("Retry-After", "2")]), OK_AGENT]) as srv:
            vault, sleep = client(srv)

            agent = vault.agents.get("a1")

            self.assertEqual(agent["agent_id"], "a1")
            self.assertEqual(len(srv.seen), 2)
            self.assertEqual(len(sleep.waits), 1)
            self.assertGreaterEqual(sleep.waits[0], 2.0)
            self.assertLessEqual(sleep.waits[0], 2.0 + 1.0)

    def test_503_is_retried_and_an_http_date_retry_after_is_honoured(self) -> None:
        when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=5), usegmt=True)
        with ScriptedServer([Reply(503, error_body("service_unavailable", "retry"), [("Retry-After", when)]), OK_AGENT]) as srv:
            vault, sleep = client(srv)

            vault.agents.get("a1")

            self.assertEqual(len(srv.seen), 2)
            self.assertGreaterEqual(sleep.waits[0], 3.0)
            self.assertLessEqual(sleep.waits[0], 6.0)

    def test_without_retry_after_the_backoff_grows_with_jitter_and_stays_bounded(self) -> None:
        with ScriptedServer([Reply(503, error_body("service_unavailable", "retry"))] * 4 + [OK_AGENT]) as srv:
            vault, sleep = client(srv, max_retries=4, max_retry_wait=1.5)

            vault.agents.get("a1")

            self.assertEqual(len(sleep.waits), 4)
            for attempt, wait in enumerate(sleep.waits):
                ceiling = min(1.5, 0.5 * 2**attempt)
                self.assertGreaterEqual(wait, ceiling / 2)
                self.assertLessEqual(wait, ceiling)

    def test_jitter_spreads_the_waits_of_clients_told_the_same_retry_after(self) -> None:
        waits = set()
        for _ in range(5):
            with ScriptedServer([Reply(429, error_body("too_many_requests", "x"), [("Retry-After", "1")]), OK_AGENT]) as srv:
                vault, sleep = client(srv)
                vault.agents.get("a1")
                waits.add(round(sleep.waits[0], 6))
        self.assertGreater(len(waits), 1)

    def test_retries_are_bounded_then_the_typed_error_is_raised(self) -> None:
        with ScriptedServer([Reply(429, error_body("too_many_requests", "over the limit"), [("Retry-After", "1"), ("x-request-id", "req-9")])]) as srv:
            vault, sleep = client(srv, max_retries=2)

            with self.assertRaises(RateLimitError) as ctx:
                list(vault.agents.list())

            self.assertEqual(len(srv.seen), 3)
            self.assertEqual(len(sleep.waits), 2)
            self.assertEqual(ctx.exception.status, 429)
            self.assertEqual(ctx.exception.code, "too_many_requests")
            self.assertEqual(ctx.exception.retry_after, 1.0)
            self.assertEqual(ctx.exception.request_id, "req-9")

    def test_a_retry_after_over_the_bound_is_not_waited_for(self) -> None:
        with ScriptedServer([Reply(503, error_body("service_unavailable", "later"), [("Retry-After", "120")]), OK_AGENT]) as srv:
            vault, sleep = client(srv, max_retry_wait=30)

            with self.assertRaises(ServiceUnavailableError) as ctx:
                vault.agents.get("a1")

            self.assertEqual(len(srv.seen), 1)
            self.assertEqual(sleep.waits, [])
            self.assertEqual(ctx.exception.retry_after, 120.0)

    def test_max_retries_zero_turns_retries_off(self) -> None:
        with ScriptedServer([Reply(429, error_body("too_many_requests", "x"), [("Retry-After", "1")]), OK_AGENT]) as srv:
            vault, sleep = client(srv, max_retries=0)
            with self.assertRaises(RateLimitError):
                vault.agents.get("a1")
            self.assertEqual(len(srv.seen), 1)

    def test_non_idempotent_requests_are_never_retried(self) -> None:
        calls = [
            lambda v: v.agents.create("A", ["username"], "http://127.0.0.1:1/run"),
            lambda v: v.profiles.put("a1", "p", {"token": "x"}),
            lambda v: v.profiles.patch("a1", "p", active=False),
            lambda v: v.proxy("a1", "avt_x", "GET", "http://127.0.0.1:1/"),
            lambda v: v.runs.run_agent("a1", auth_token="avt_x"),
        ]
        for call in calls:
            with self.subTest(call=call), ScriptedServer([Reply(429, error_body("too_many_requests", "x"), [("Retry-After", "1")]), OK_AGENT]) as srv:
                vault, sleep = client(srv)
                with self.assertRaises(RateLimitError):
                    call(vault)
                self.assertEqual(len(srv.seen), 1)
                self.assertEqual(sleep.waits, [])

    def test_idempotent_writes_are_retried(self) -> None:
        calls = [
            lambda v: v.agents.delete("a1"),
            lambda v: v.profiles.delete("a1", "p"),
            lambda v: v.api_keys.revoke("0123456789abcdef"),
            lambda v: v.agents.update("a1", "A", ["username"], "http://127.0.0.1:1/run"),
        ]
        for call in calls:
            with self.subTest(call=call), ScriptedServer([Reply(503, error_body("service_unavailable", "x"), [("Retry-After", "0")]), Reply(204)]) as srv:
                vault, _ = client(srv)
                call(vault)
                self.assertEqual(len(srv.seen), 2)

    def test_other_errors_are_not_retried(self) -> None:
        for status in (400, 401, 404, 409, 500, 502):
            with self.subTest(status=status), ScriptedServer([Reply(status, error_body("x", "no")), OK_AGENT]) as srv:
                vault, _ = client(srv)
                with self.assertRaises(AgentVaultError):
                    vault.agents.get("a1")
                self.assertEqual(len(srv.seen), 1)

    def test_parse_retry_after(self) -> None:
        now = datetime(2026, 12, 6, 12, 0, 0, tzinfo=timezone.utc)
        self.assertEqual(parse_retry_after("7", now), 7.0)
        self.assertEqual(parse_retry_after("Sun, 06 Dec 2026 12:00:30 GMT", now), 30.0)
        self.assertEqual(parse_retry_after("Sun, 06 Dec 2026 11:00:00 GMT", now), 0.0)
        self.assertIsNone(parse_retry_after("soon", now))
        self.assertIsNone(parse_retry_after(None, now))


class RequestTests(unittest.TestCase):
    def test_requests_carry_the_key_json_and_quoted_path_parameters(self) -> None:
        with ScriptedServer([Reply(200, {"agent_id": "a1", "name": "p", "grants": []})]) as srv:
            vault, _ = client(srv)

            vault.profiles.share("a/1", "alice smith", "role:member", "read_write")
            vault.profiles.unshare("a1", "alice", "role:member")

            first, second = srv.seen
            self.assertEqual(first.method, "POST")
            self.assertEqual(first.path, "/v1/agents/a%2F1/auth-profiles/alice%20smith/share")
            self.assertEqual(first.headers["authorization"], "Bearer " + KEY)
            self.assertEqual(first.headers["content-type"], "application/json")
            self.assertEqual(first.json(), {"principal": "role:member", "permission": "read_write"})
            self.assertEqual(second.method, "DELETE")
            self.assertEqual(second.path, "/v1/agents/a1/auth-profiles/alice/share/role%3Amember")
            self.assertEqual(second.body, b"")

    def test_patch_leaves_out_unset_fields_and_sends_null_for_none(self) -> None:
        with ScriptedServer([Reply(200, {"name": "p"})]) as srv:
            vault, _ = client(srv)

            vault.profiles.patch("a1", "p", description=None, allowed_methods=["GET"])
            vault.profiles.rotate("a1", "p", "avt_tok", expires_in_hours=None)
            vault.profiles.rotate("a1", "p", "avt_tok")

            self.assertEqual(srv.seen[0].json(), {"description": None, "allowed_methods": ["GET"]})
            self.assertEqual(srv.seen[1].json(), {"auth_token": "avt_tok", "expires_in_hours": None})
            self.assertEqual(srv.seen[2].json(), {"auth_token": "avt_tok"})

    def test_lists_are_generators_over_every_page(self) -> None:
        pages = [
            Reply(200, {"agents": [{"agent_id": "a1"}, {"agent_id": "a2"}], "next_cursor": "c1"}),
            Reply(200, {"agents": [{"agent_id": "a3"}], "next_cursor": "c/2"}),
            Reply(200, {"agents": []}),
        ]
        with ScriptedServer(pages) as srv:
            vault, _ = client(srv)

            agents = vault.agents.list(page_size=2)
            self.assertEqual(srv.seen, [])  # lazy: no request before iteration
            ids = [a["agent_id"] for a in agents]

            self.assertEqual(ids, ["a1", "a2", "a3"])
            self.assertEqual([s.path for s in srv.seen], ["/v1/agents?limit=2", "/v1/agents?limit=2&cursor=c1", "/v1/agents?limit=2&cursor=c%2F2"])

    def test_force_and_audit_filters_go_in_the_query(self) -> None:
        with ScriptedServer([Reply(204), Reply(200, {"records": []})]) as srv:
            vault, _ = client(srv)

            vault.profiles.delete("a1", "p", force=True)
            list(vault.audit.list(agent_id="a1", profile="p", since=datetime(2026, 1, 1, tzinfo=timezone.utc)))

            self.assertEqual(srv.seen[0].path, "/v1/agents/a1/auth-profiles/p?force=true")
            self.assertEqual(srv.seen[1].path, "/v1/audit?agent_id=a1&profile=p&since=2026-01-01T00%3A00%3A00%2B00%3A00")

    def test_a_redirect_is_not_followed_and_the_key_never_reaches_its_target(self) -> None:
        with ScriptedServer([Reply(200, {"ok": True})]) as elsewhere:
            with ScriptedServer([Reply(302, "", [("Location", elsewhere.url + "/steal")])]) as srv:
                vault, _ = client(srv)

                with self.assertRaises(AgentVaultError) as ctx:
                    vault.agents.get("a1")

                self.assertEqual(ctx.exception.status, 302)
                self.assertEqual(ctx.exception.code, "redirect")
                self.assertEqual(elsewhere.seen, [])

    def test_a_timeout_raises_api_timeout_error(self) -> None:
        with ScriptedServer([Reply(200, {"agent_id": "a1"}, delay=2.0)]) as srv:
            vault, _ = client(srv, timeout=0.2)

            with self.assertRaises(APITimeoutError) as ctx:
                vault.agents.get("a1")

            self.assertIsNone(ctx.exception.status)
            self.assertEqual(ctx.exception.code, "timeout")

    def test_an_unreachable_vault_raises_api_connection_error(self) -> None:
        vault = AgentVault("http://127.0.0.1:%d" % free_loopback_port(), KEY, use_env_proxies=False)

        with self.assertRaises(APIConnectionError) as ctx:
            vault.health()

        self.assertEqual(ctx.exception.code, "connection_error")
        self.assertIn("Could not reach the vault", str(ctx.exception))

    def test_url_and_key_come_from_the_environment_or_are_asked_for(self) -> None:
        import os
        from unittest import mock

        with mock.patch.dict(os.environ, {"AGENT_VAULT_URL": "http://127.0.0.1:9", "AGENT_VAULT_API_KEY": KEY}):
            self.assertEqual(AgentVault().url, "http://127.0.0.1:9")
        with mock.patch.dict(os.environ, {}, clear=True):
            with self.assertRaises(ValueError):
                AgentVault()
            with self.assertRaises(ValueError):
                AgentVault("http://127.0.0.1:9")


class ErrorTests(unittest.TestCase):
    def test_each_status_family_has_its_exception_with_status_code_message_and_request_id(self) -> None:
        cases = [
            (400, ValidationError),
            (413, ValidationError),
            (415, ValidationError),
            (401, AuthenticationError),
            (403, PermissionDeniedError),
            (404, NotFoundError),
            (405, MethodNotAllowedError),
            (409, ConflictError),
            (429, RateLimitError),
            (500, ServerError),
            (502, ServerError),
            (503, ServiceUnavailableError),
            (504, ServerError),
        ]
        for status, cls in cases:
            with self.subTest(status=status), ScriptedServer([Reply(status, error_body("some_code", "what to fix"), [("x-request-id", "rid-%d" % status)])]) as srv:
                vault, _ = client(srv, max_retries=0)

                with self.assertRaises(cls) as ctx:
                    vault.profiles.get("a1", "p")

                err = ctx.exception
                self.assertIsInstance(err, AgentVaultError)
                self.assertEqual((err.status, err.code, err.message, err.request_id), (status, "some_code", "what to fix", "rid-%d" % status))
                self.assertEqual((err.method, err.path), ("GET", "/v1/agents/a1/auth-profiles/p"))
                self.assertIn("what to fix", str(err))
                self.assertIn("rid-%d" % status, str(err))
        self.assertTrue(issubclass(ServiceUnavailableError, ServerError))
        self.assertTrue(issubclass(APITimeoutError, APIConnectionError))

    def test_extra_error_fields_are_kept_in_details(self) -> None:
        usage = {"use_count": 3, "last_used_at": "2026-12-06T10:00:00Z"}
        with ScriptedServer([Reply(409, error_body("profile_in_use", "in use; force=true deletes", usage=usage))]) as srv:
            vault, _ = client(srv)
            with self.assertRaises(ConflictError) as ctx:
                vault.profiles.delete("a1", "p")
            self.assertEqual(ctx.exception.details, {"usage": usage})

    def test_a_body_that_is_not_a_json_error_still_gives_a_typed_error(self) -> None:
        with ScriptedServer([Reply(502, "<html>bad gateway</html>", [("Content-Type", "text/html")])]) as srv:
            vault, _ = client(srv)
            with self.assertRaises(ServerError) as ctx:
                vault.health()
            self.assertEqual(ctx.exception.code, "http_502")
            self.assertNotIn("<html>", str(ctx.exception))

    def test_no_secret_in_exception_text_or_any_repr(self) -> None:
        token = "avt_" + "T" * 40
        grant = "avg_" + "G" * 40
        quoted = "refused %s and %s; header was Bearer %s" % (token, grant, KEY)
        with ScriptedServer([Reply(401, error_body("unauthorized", quoted))]) as srv:
            vault, _ = client(srv)

            with self.assertRaises(AuthenticationError) as ctx:
                vault.proxy("a1", token, "GET", "http://127.0.0.1:1/")

            shown = [str(ctx.exception), repr(ctx.exception), ctx.exception.message, repr(vault), repr(vault._transport), str(ctx.exception.args)]
            for text in shown:
                for secret in (token, grant, KEY, KEY[4:], token[4:]):
                    self.assertNotIn(secret, text)
            self.assertIn("avt_***", str(ctx.exception))
            self.assertEqual(repr(vault), "AgentVault(url=%r, api_key='avk_***')" % srv.url)

    def test_the_package_exports_every_exception(self) -> None:
        for name in ("NotFoundError", "ConflictError", "AuthenticationError", "PermissionDeniedError", "RateLimitError", "ValidationError", "ServerError"):
            self.assertTrue(issubclass(getattr(agent_vault, name), AgentVaultError), name)


if __name__ == "__main__":
    unittest.main()
