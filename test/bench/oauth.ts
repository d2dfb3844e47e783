import { createDb } from '#shared/clients';
import { signerOf } from '#test/support/dynamo';
import { dynamoStore } from '#shared/store/dynamodb';
import { openForUse } from '#shared/credentials/gate';
import { accessTokenFor } from '#shared/credentials/oauth2/access-token';
import type { Deps } from '#shared/deps';
import { startEchoUpstream } from '#test/support/upstream';
import { startTokenServer } from '#test/support/token-server';
import { apiEvent, invokeOk } from './lib/events.ts';
import type { BenchRunner } from './lib/runner.ts';
import { fmt, median, q, table } from './lib/stats.ts';
import { TENANT, startInProcessVault } from './lib/vault.ts';
import type { Budget, InProcessResult } from './in-process.ts';

// ---------------------------------------------------------------------------------------------
// 8. OAuth2 single-flight token fetch
// ---------------------------------------------------------------------------------------------

const PARALLEL = 50;

/**
 * OAuth2 client credentials: how many requests the token endpoint sees for 50 parallel uses of a
 * profile whose token is not cached yet (the design says 1: one use takes the lease on the cache
 * item, the others wait for it). Through the real POST /v1/proxy handler (one process), and
 * through the gate with the uses split over two Deps that share the table (two "processes",
 * each with its own DynamoDB client). Each round uses a fresh profile; the row shows the most
 * token requests any round made. Then the same 50 again on the warm cache (0 expected).
 */
export async function oauthSingleFlight(runner: BenchRunner, budget: Budget): Promise<InProcessResult> {
  const rounds = budget.quick ? 3 : 10;
  const upstream = await startEchoUpstream();
  // The endpoint answers after 100 ms, so the 50 uses really overlap the fetch.
  const tokens = await startTokenServer({ delayMs: 100 });
  const vault = await startInProcessVault('dynalite', runner);
  const otherDb = createDb({ dynamoEndpoint: vault.endpoint, region: 'local', tableName: vault.deps.config.tableName });
  const other: Deps = { ...vault.deps, store: dynamoStore(otherDb, signerOf(vault.deps)) };
  const profileBody = {
    auth_type: 'oauth2_client_credentials',
    auth_config: { token_url: tokens.url },
    auth_data: { client_id: 'bench-client', client_secret: 'bench-client-secret-0123456789' },
    allowed_hosts: [`127.0.0.1:${upstream.port}`],
  };
  const url = `${upstream.url}/v1/items`;
  const results = { proxyCold: [] as number[], proxyWarm: [] as number[], twoCold: [] as number[], coldMs: [] as number[] };
  try {
    vault.use();
    for (let r = 0; r < rounds; r++) {
      // One process, through the handler.
      const token = await vault.createProfile(`oauth-proxy-${r}`, undefined, profileBody);
      const event = apiEvent('POST', '/v1/proxy', { agent_id: vault.agentId, auth_token: token, method: 'GET', url }, vault.headers());
      tokens.seen.length = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: PARALLEL }, () => invokeOk(event)));
      results.coldMs.push(performance.now() - t0);
      results.proxyCold.push(tokens.seen.length);
      tokens.seen.length = 0;
      await Promise.all(Array.from({ length: PARALLEL }, () => invokeOk(event)));
      results.proxyWarm.push(tokens.seen.length);
      upstream.seen.length = 0;

      // Two "processes" sharing the table, through the gate.
      const token2 = await vault.createProfile(`oauth-two-${r}`, undefined, profileBody);
      tokens.seen.length = 0;
      const caller = { tenant: TENANT, apiKeyId: 'bench', role: 'admin' as const, requestId: 'bench' };
      await Promise.all(
        Array.from({ length: PARALLEL }, async (_, i) => {
          const deps = i % 2 ? other : vault.deps;
          const use = await openForUse(deps, caller, { kind: 'token', agentId: vault.agentId, token: token2 }, 'proxy');
          await accessTokenFor(deps, use, { timeoutMs: 5_000, allowPrivate: true, httpsOnly: false });
        }),
      );
      results.twoCold.push(tokens.seen.length);
    }
    const max = (xs: number[]) => Math.max(...xs);
    const text = table(
      `8. OAuth2 token-endpoint calls per ${PARALLEL} parallel uses (must print 1; ${rounds} rounds, a fresh profile each)`,
      ['case', 'token requests (max over rounds)'],
      [
        [`${PARALLEL} parallel POST /v1/proxy, token not cached (one process)`, String(max(results.proxyCold))],
        [`${PARALLEL} parallel uses over two processes sharing the table, token not cached`, String(max(results.twoCold))],
        [`${PARALLEL} parallel POST /v1/proxy, token cached`, String(max(results.proxyWarm))],
      ],
      [
        `the ${PARALLEL} cold proxy calls took ${fmt(median(results.coldMs))} ms (median over rounds; the token endpoint answers after 100 ms):`,
        '  one use takes the conditional-write lease on the cache item and fetches; the others poll the item with backoff.',
      ],
    );
    return {
      text,
      json: {
        token_requests_per_50_parallel_uses: q(max(results.proxyCold), 'count'),
        token_requests_per_50_parallel_uses_two_processes: q(max(results.twoCold), 'count'),
        token_requests_per_50_parallel_uses_cached: q(max(results.proxyWarm), 'count'),
        cold_50_parallel_ms_median: q(median(results.coldMs), 'ms'),
        rounds: q(rounds, 'count'),
      },
    };
  } finally {
    otherDb.client.destroy();
    await vault.close();
    await tokens.close();
    await upstream.close();
  }
}
