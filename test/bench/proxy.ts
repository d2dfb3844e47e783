import { request } from 'node:http';
import { sendOutbound } from '#shared/outbound/http-client';
import { apiEvent, invokeOk } from './lib/events.ts';
import type { BenchRunner } from './lib/runner.ts';
import { fmt, fmtRatio, median, q, ratio, summarize, table } from './lib/stats.ts';
import { startInProcessVault } from './lib/vault.ts';
import type { Budget, InProcessResult } from './in-process.ts';
import { startEchoUpstream } from '#test/support/upstream';

/**
 * One GET straight to the upstream with node:http's global keep-alive agent: a reused connection,
 * as the proxy's outbound client also reuses one (kept per pinned address and profile).
 */
function directGet(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers: { authorization: 'Bearer bench-direct' } }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// 6. The proxy's added latency
// ---------------------------------------------------------------------------------------------

/**
 * POST /v1/proxy (the real handler in process, a bearer profile, in-memory dynalite) against a
 * direct GET to the same loopback upstream, and against the vault's own outbound client alone.
 * Measured interleaved (direct, client, proxy, direct, …) so load on the machine hits all alike.
 */
export async function proxyLatency(runner: BenchRunner, budget: Budget): Promise<InProcessResult> {
  const iterations = budget.quick ? 200 : 1500;
  const warmup = budget.quick ? 30 : 150;
  const upstream = await startEchoUpstream();
  const vault = await startInProcessVault('dynalite', runner);
  const memVault = await startInProcessVault('memory', runner);
  try {
    const profile = {
      auth_type: 'bearer',
      auth_data: { token: 'bench-bearer-token-0123456789' },
      allowed_hosts: [`127.0.0.1:${upstream.port}`],
    };
    const token = await vault.createProfile('bench-proxy', undefined, profile);
    const memToken = await memVault.createProfile('bench-proxy', undefined, profile);
    const url = `${upstream.url}/v1/items`;
    const event = (v: typeof vault, t: string) => apiEvent('POST', '/v1/proxy', { agent_id: v.agentId, auth_token: t, method: 'GET', url }, v.headers());
    const parsed = new URL(url);
    const samples = { direct: [] as number[], client: [] as number[], memory: [] as number[], proxy: [] as number[] };
    const ops: [keyof typeof samples, () => Promise<unknown>][] = [
      ['direct', () => directGet(url)],
      ['client', () => sendOutbound({ url: parsed, method: 'GET', headers: {}, timeoutMs: 5_000, maxResponseBytes: 1 << 20, allowPrivate: true })],
      [
        'memory',
        () => {
          memVault.use();
          return invokeOk(event(memVault, memToken));
        },
      ],
      [
        'proxy',
        () => {
          vault.use();
          return invokeOk(event(vault, token));
        },
      ],
    ];
    for (let i = 0; i < warmup + iterations; i++) {
      for (const [name, op] of ops) {
        const t0 = performance.now();
        await op();
        if (i >= warmup) samples[name].push((performance.now() - t0) * 1000);
      }
      upstream.seen.length = 0; // the echo server keeps what it saw; the bench does not need it
    }
    const s = { direct: summarize(samples.direct), client: summarize(samples.client), memory: summarize(samples.memory), proxy: summarize(samples.proxy) };
    const added = median(samples.proxy) - median(samples.direct);
    const rows = [
      ['direct GET (node:http)', fmt(s.direct.median), fmt(s.direct.p99), '×1.00'],
      ['outbound client alone (DNS pin + SSRF guard)', fmt(s.client.median), fmt(s.client.p99), fmtRatio(ratio(s.client.median, s.direct.median))],
      ['POST /v1/proxy (handler, in-memory store: the vault\'s own cost)', fmt(s.memory.median), fmt(s.memory.p99), fmtRatio(ratio(s.memory.median, s.direct.median))],
      ['POST /v1/proxy (handler, dynalite)', fmt(s.proxy.median), fmt(s.proxy.p99), fmtRatio(ratio(s.proxy.median, s.direct.median))],
    ];
    const text = table(
      '6. Proxy latency: POST /v1/proxy vs a direct call to the same loopback upstream (µs)',
      ['call', 'median', 'p99', 'ratio to direct'],
      rows,
      [
        `added by the proxy (median): ${fmt(added)} µs on dynalite, ${fmt(median(samples.memory) - median(samples.direct))} µs on the in-memory store — API-key check (cached), zod,`,
        '  one BatchGet (agent + profile) and the usage update,',
        '  token verification, HKDF + AES-GCM decrypt, injection, and redaction of the answer. The upstream is an in-process echo server.',
        `${iterations} interleaved iterations after ${warmup} warm-up.`,
      ],
    );
    return {
      text,
      json: {
        direct: { median: q(s.direct.median, 'µs'), p99: q(s.direct.p99, 'µs') },
        outbound_client: { median: q(s.client.median, 'µs'), p99: q(s.client.p99, 'µs') },
        proxy_in_memory_store: { median: q(s.memory.median, 'µs'), p99: q(s.memory.p99, 'µs') },
        proxy: { median: q(s.proxy.median, 'µs'), p99: q(s.proxy.p99, 'µs') },
        added_median: q(added, 'µs'),
        ratio_to_direct: q(ratio(s.proxy.median, s.direct.median), 'ratio'),
        iterations: q(iterations, 'count'),
      },
    };
  } finally {
    await vault.close();
    await memVault.close();
    await upstream.close();
  }
}
