import { createDb } from '#shared/clients';
import { signerOf } from '#test/support/dynamo';
import { dynamoStore } from '#shared/store/dynamodb';
import { openForUse } from '#shared/credentials/gate';
import { accessTokenFor } from '#shared/credentials/oauth2/access-token';
import type { Deps } from '#shared/deps';
import { startEchoUpstream } from '#test/support/upstream';
import { startTokenServer } from '#test/support/token-server';
import { startAuthServer } from '#test/support/auth-server';
import { setDeps } from '#shared/context';
import { connectLink, oauthCallback, openConnectLink } from '#shared/services/connections';
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

// ---------------------------------------------------------------------------------------------
// 10. Delegated OAuth (oauth2_authorization_code): refresh single flight and the proxy's cost
// ---------------------------------------------------------------------------------------------

/**
 * A profile connected through the real connect flow (link → authorize → callback, against the
 * loopback authorization server of test/support/auth-server.ts, which rotates refresh tokens),
 * whose access token has expired (the vault's clock moved an hour on): how many refresh requests
 * 50 parallel POST /v1/proxy calls make (must print 1). Then the proxy's latency with the warm
 * delegated profile against a bearer profile and a direct call to the same upstream.
 */
export async function delegatedOAuth(runner: BenchRunner, budget: Budget): Promise<InProcessResult> {
  const rounds = budget.quick ? 3 : 10;
  const iterations = budget.quick ? 200 : 1000;
  const warmup = budget.quick ? 30 : 100;
  const upstream = await startEchoUpstream();
  const as = await startAuthServer({ delayMs: 100 });
  const vault = await startInProcessVault('dynalite', runner);
  const caller = { tenant: TENANT, apiKeyId: 'bench', role: 'admin' as const, requestId: 'bench' };
  const base = 'http://127.0.0.1:3999';
  const delegatedBody = (name: string) => ({
    auth_type: 'oauth2_authorization_code',
    auth_config: { authorize_url: `${as.url}/authorize`, token_url: `${as.url}/token`, return_url: `${base}/back` },
    auth_data: { client_id: 'bench-client', client_secret: `bench-secret-${name}` },
    allowed_hosts: [`127.0.0.1:${upstream.port}`],
  });
  const connect = async (name: string, token: string) => {
    const { connect_url } = await connectLink(vault.deps, caller, vault.agentId, name, token, base);
    const authorize = await openConnectLink(vault.deps, new URL(connect_url).searchParams.get('link') ?? undefined, base);
    const callback = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location') ?? '');
    await oauthCallback(vault.deps, Object.fromEntries(callback.searchParams));
  };
  const url = `${upstream.url}/v1/items`;
  const proxyEvent = (token: string) =>
    apiEvent('POST', '/v1/proxy', { agent_id: vault.agentId, auth_token: token, method: 'GET', url }, vault.headers());
  const refreshCounts: number[] = [];
  const coldMs: number[] = [];
  try {
    vault.use();
    const later: Deps = { ...vault.deps, now: () => new Date(Date.now() + 3_600_000) };
    for (let r = 0; r < rounds; r++) {
      const name = `deleg-${r}`;
      const token = await vault.createProfile(name, undefined, delegatedBody(name));
      await connect(name, token);
      const before = as.tokenCalls.filter((c) => c.grant_type === 'refresh_token').length;
      setDeps(later); // an hour on: the access token has expired
      const t0 = performance.now();
      await Promise.all(Array.from({ length: PARALLEL }, () => invokeOk(proxyEvent(token))));
      coldMs.push(performance.now() - t0);
      vault.use();
      refreshCounts.push(as.tokenCalls.filter((c) => c.grant_type === 'refresh_token').length - before);
      upstream.seen.length = 0;
    }
    // Latency: a warm delegated profile vs a bearer one vs direct, interleaved.
    const token = await vault.createProfile('deleg-latency', undefined, delegatedBody('latency'));
    await connect('deleg-latency', token);
    const bearer = await vault.createProfile('bearer-latency', undefined, {
      auth_type: 'bearer',
      auth_data: { token: 'bench-bearer-token-0123456789' },
      allowed_hosts: [`127.0.0.1:${upstream.port}`],
    });
    const samples = { direct: [] as number[], bearer: [] as number[], delegated: [] as number[] };
    const ops: [keyof typeof samples, () => Promise<unknown>][] = [
      ['direct', () => fetch(url).then((res) => res.arrayBuffer())],
      ['bearer', () => invokeOk(proxyEvent(bearer))],
      ['delegated', () => invokeOk(proxyEvent(token))],
    ];
    vault.use();
    for (let i = 0; i < warmup + iterations; i++) {
      for (const [k, op] of ops) {
        const t0 = performance.now();
        await op();
        if (i >= warmup) samples[k].push((performance.now() - t0) * 1000);
      }
      upstream.seen.length = 0;
    }
    const m = { direct: median(samples.direct), bearer: median(samples.bearer), delegated: median(samples.delegated) };
    const text = table(
      `10. Delegated OAuth (oauth2_authorization_code): refresh requests per ${PARALLEL} parallel uses of an expired token (must print 1), and the proxy's latency (µs)`,
      ['case', 'value'],
      [
        [
          `refresh requests per ${PARALLEL} parallel POST /v1/proxy, access token expired (max over ${rounds} rounds)`,
          String(Math.max(...refreshCounts)),
        ],
        [`the ${PARALLEL} calls took (median over rounds; the token endpoint answers after 100 ms)`, `${fmt(median(coldMs))} ms`],
        ['direct GET to the upstream, median', fmt(m.direct)],
        ['POST /v1/proxy with a bearer profile, median', fmt(m.bearer)],
        ['POST /v1/proxy with a connected oauth2_authorization_code profile (warm token), median', fmt(m.delegated)],
        ['added by the proxy for this type (median, vs direct)', fmt(m.delegated - m.direct)],
        ['added over a bearer profile (the token cache read in the same BatchGet, one more AES-GCM open)', fmt(m.delegated - m.bearer)],
      ],
      [`${iterations} interleaved iterations after ${warmup} warm-up; handler in process, dynalite in memory, loopback upstream.`],
    );
    return {
      text,
      json: {
        refresh_requests_per_50_parallel_uses: q(Math.max(...refreshCounts), 'count'),
        cold_50_parallel_ms_median: q(median(coldMs), 'ms'),
        proxy_direct_median: q(m.direct, 'µs'),
        proxy_bearer_median: q(m.bearer, 'µs'),
        proxy_delegated_median: q(m.delegated, 'µs'),
        added_median: q(m.delegated - m.direct, 'µs'),
        added_over_bearer_median: q(m.delegated - m.bearer, 'µs'),
        rounds: q(rounds, 'count'),
        iterations: q(iterations, 'count'),
      },
    };
  } finally {
    await vault.close();
    await as.close();
    await upstream.close();
  }
}
