"""Retries against a real vault's rate limit: 429 + Retry-After from VAULT_TENANT_RATE_LIMIT.

Needs AGENT_VAULT_LIMITED_URL and AGENT_VAULT_LIMITED_API_KEY: a vault on loopback started with a
tenant rate limit of 2 requests per second (test/e2e/sdk-python.e2e.test.ts starts one).
"""

import os
import time
import unittest
import urllib.parse
from typing import List

from _support import HERE  # noqa: F401 - the package on sys.path, the loopback guard

from agent_vault import AgentVault, RateLimitError

URL = os.environ.get("AGENT_VAULT_LIMITED_URL")
KEY = os.environ.get("AGENT_VAULT_LIMITED_API_KEY")


@unittest.skipUnless(URL and KEY, "set AGENT_VAULT_LIMITED_URL and AGENT_VAULT_LIMITED_API_KEY (test/e2e/sdk-python.e2e.test.ts does)")
class RateLimitedVaultTests(unittest.TestCase):
    def setUp(self) -> None:
        assert URL is not None
        self.assertIn(urllib.parse.urlsplit(URL).hostname, ("127.0.0.1", "localhost", "::1"))
        self.waits: List[float] = []

    def sleeping(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)

    def test_gets_over_the_limit_wait_as_retry_after_says_and_succeed(self) -> None:
        vault = AgentVault(URL, KEY, use_env_proxies=False, sleep=self.sleeping)

        pages = [vault.agents.list_page() for _ in range(6)]

        self.assertEqual(len(pages), 6)
        self.assertGreaterEqual(len(self.waits), 1)  # 6 requests at 2 per second: the vault said 429 at least once
        for wait in self.waits:
            self.assertGreaterEqual(wait, 1.0)  # Retry-After: 1, never earlier
            self.assertLessEqual(wait, 1.2)  # plus at most 10 % + 0.1 s of jitter

    def test_a_post_over_the_limit_is_not_retried(self) -> None:
        vault = AgentVault(URL, KEY, use_env_proxies=False, sleep=self.sleeping)

        with self.assertRaises(RateLimitError) as ctx:
            for i in range(10):
                vault.agents.create("limited", [], "http://127.0.0.1:9/run")

        self.assertEqual(self.waits, [])
        self.assertEqual((ctx.exception.status, ctx.exception.code), (429, "too_many_requests"))
        self.assertGreaterEqual(ctx.exception.retry_after or 0, 1.0)
        self.assertIn("rate limit", ctx.exception.message)


if __name__ == "__main__":
    unittest.main()
