import { type AttributeValue, BatchWriteItemCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { openForUse } from '#shared/credentials/gate';
import { issueGrant } from '#shared/credentials/grants';
import { namedProfileRef, slotFor } from '#shared/credentials/profile-keys';
import { keys } from '#shared/keys';
import { createFloor, runFloor, updateFloor } from './lib/crypto-floor.ts';
import { handlers, invokeOk, lambdaContext, type Prepared } from './lib/events.ts';
import type { BenchRunner } from './lib/runner.ts';
import { fmt, fmtRatio, median, type Quantity, q, ratio, type Summary, since, summarize, table, timeLoop } from './lib/stats.ts';
import { type InProcessVault, startInProcessVault, TENANT } from './lib/vault.ts';
import { apiEvent } from './lib/events.ts';
import { startEchoUpstream } from '#test/support/upstream';
import { startTokenServer } from '#test/support/token-server';
import { profileRef } from '#shared/store/profile-ref';

export interface Budget {
  readonly quick: boolean;
}

/** Calls the handler for a prepared event and checks the status (no body parsing in the timed region). */
async function call(p: Prepared, expected = 200): Promise<void> {
  const res = (await handlers[p.group](p.event, lambdaContext)) as { statusCode?: number; body?: string };
  if (res.statusCode !== expected) throw new Error(`${p.event.routeKey} answered ${res.statusCode}: ${res.body}`);
}

const us = (s: Summary) => ({ median: q(s.median, 'µs'), p99: q(s.p99, 'µs'), iterations: q(s.n, 'count') });

// ---------------------------------------------------------------------------------------------
// 1. In-process cost per operation
// ---------------------------------------------------------------------------------------------

export interface InProcessResult {
  readonly text: string;
  readonly json: Record<string, unknown>;
}

type OpName = 'create' | 'update' | 'run';

export async function inProcessCost(runner: BenchRunner, budget: Budget): Promise<InProcessResult> {
  const memIters = budget.quick ? 500 : 3000;
  const memWarm = budget.quick ? 100 : 500;
  const dynIters = budget.quick ? 200 : 2000;
  const dynWarm = budget.quick ? 50 : 200;
  const floorOf: Record<OpName, () => unknown> = { create: createFloor, update: updateFloor, run: () => runFloor(runner.url) };

  // Both vaults stay up; each operation is measured floor → in-memory store → dynalite back to back, so a
  // change of load on the machine hits a figure and its floor alike.
  const memVault = await startInProcessVault('memory', runner);
  let dynVault: InProcessVault;
  try {
    dynVault = await startInProcessVault('dynalite', runner);
  } catch (err) {
    await memVault.close();
    throw err;
  }
  const floors = {} as Record<OpName, Summary>;
  const results: Record<string, Record<OpName, Summary>> = {
    'in-memory store': {} as Record<OpName, Summary>,
    'dynalite (in memory)': {} as Record<OpName, Summary>,
  };
  const memUs: Record<OpName, number> = { create: 0, update: 0, run: 0 };
  try {
    const setups = [
      { label: 'in-memory store', vault: memVault, iterations: memIters, warmup: memWarm },
      { label: 'dynalite (in memory)', vault: dynVault, iterations: dynIters, warmup: dynWarm },
    ];
    const tokens = new Map<InProcessVault, { update: string; run: string }>();
    for (const { vault } of setups)
      tokens.set(vault, { update: await vault.createProfile('update-target'), run: await vault.createProfile('run-target') });
    let n = 0;
    const eventFor = (vault: InProcessVault, op: OpName) => {
      const t = tokens.get(vault) as { update: string; run: string };
      if (op === 'create') return () => vault.createEvent(`c-${n++}`);
      if (op === 'update')
        return (i: number) => vault.upsertEvent({ agent_id: vault.agentId, auth_token: t.update, auth_data: { f0: `value-${i}` } });
      return () => vault.runEvent(t.run);
    };
    for (const op of ['create', 'update', 'run'] as const) {
      floors[op] = summarize(await timeLoop(memIters, memWarm, () => undefined, floorOf[op]));
      for (const { label, vault, iterations, warmup } of setups) {
        vault.use();
        const meter = vault.memory?.meter;
        meter?.reset();
        const own: number[] = [];
        const prepare = eventFor(vault, op);
        (results[label] as Record<OpName, Summary>)[op] = summarize(
          await timeLoop(iterations, warmup, prepare, async (p, i) => {
            const before = meter?.selfTimeUs ?? 0;
            await call(p);
            if (meter && i >= warmup) own.push(meter.selfTimeUs - before);
          }),
        );
        if (meter) memUs[op] = median(own);
      }
    }
  } finally {
    await dynVault.close();
    await memVault.close();
  }

  const rows: string[][] = [];
  const json: Record<string, unknown> = {
    floor: {},
    vault: {},
    memory_store_own_time_per_request: Object.fromEntries(Object.entries(memUs).map(([k, v]) => [k, q(v, 'µs')])),
  };
  const floorLabel: Record<OpName, string> = {
    create: 'HMAC verifier + Extract + 10×(Expand+GCM seal) + commit',
    update: 'verify + commit + 10×open + 10×seal',
    run: 'verify + commit + 10×open + sign + seal + bare POST to runner',
  };
  for (const op of ['create', 'update', 'run'] as const) {
    const f = floors[op];
    (json.floor as Record<string, unknown>)[op] = { what: floorLabel[op], ...us(f) };
    for (const [store, r] of Object.entries(results)) {
      const s = r[op];
      rows.push([
        op === 'update' ? 'upsert-update' : op === 'run' ? 'run (sync, token)' : 'create',
        store,
        String(s.n),
        fmt(s.median),
        fmt(s.p99),
        fmt(f.median),
        fmt(f.p99),
        fmtRatio(ratio(s.median, f.median)),
        fmtRatio(ratio(s.p99, f.p99)),
      ]);
      const byStore = json.vault as Record<string, Record<string, unknown>>;
      byStore[store] = byStore[store] ?? {};
      const v = byStore[store];
      v[op] = {
        ...us(s),
        ratio_median_to_floor: q(ratio(s.median, f.median), 'ratio'),
        ratio_p99_to_floor: q(ratio(s.p99, f.p99), 'ratio'),
      };
    }
  }
  const text = table(
    '1. In-process cost per operation (Lambda handler exports called with API Gateway v2 events; 10-field profile)',
    ['operation', 'store', 'n', 'median µs', 'p99 µs', 'floor med µs', 'floor p99 µs', 'med/floor', 'p99/floor'],
    rows,
    [
      `floors (bare node:crypto, same process): ${Object.entries(floorLabel)
        .map(([k, v]) => `${k} = ${v}`)
        .join('; ')}`,
      `the in-memory store's own time inside those figures (median per request): create ${fmt(memUs.create)} µs, update ${fmt(memUs.update)} µs, run ${fmt(memUs.run)} µs`,
      'every request also hashes its API key (SHA-256; the tenant lookup is cached per process) and validates with zod; the run includes a loopback POST to an in-process runner',
    ],
  );
  return { text, json };
}

// ---------------------------------------------------------------------------------------------
// 5. DynamoDB round trips per request
// ---------------------------------------------------------------------------------------------

export async function roundTrips(runner: BenchRunner): Promise<InProcessResult> {
  // `immediate` latency: commands issued together are in flight together, like real I/O.
  const vault = await startInProcessVault('memory', runner, 'immediate');
  const meter = vault.memory?.meter;
  if (!meter) throw new Error('round trips are counted by the in-memory store');
  const upstream = await startEchoUpstream();
  const tokenServer = await startTokenServer({ delayMs: 0 });
  try {
    const oauthToken = await vault.createProfile('rt-oauth', undefined, {
      auth_type: 'oauth2_client_credentials',
      auth_data: { client_id: 'bench-client', client_secret: 'bench-client-secret' },
      auth_config: { token_url: tokenServer.url },
      allowed_hosts: [`127.0.0.1:${upstream.port}`],
    });
    const oauthEvent = () => apiEvent('POST', '/v1/proxy', { agent_id: vault.agentId, auth_token: oauthToken, method: 'GET', url: `${upstream.url}/` }, vault.headers());
    // Warm the token cache: the measured call finds a valid, cached access token.
    await invokeOk(oauthEvent());
    const proxyToken = await vault.createProfile('rt-proxy', undefined, {
      auth_type: 'bearer',
      auth_data: { token: 'bench-bearer-token' },
      allowed_hosts: [`127.0.0.1:${upstream.port}`],
    });
    // A run grant for the same profile, as a runner of a credential_delivery "proxy" agent gets it.
    const proxyUse = await openForUse(vault.deps, { tenant: TENANT, apiKeyId: 'bench', role: 'admin' }, { kind: 'token', agentId: vault.agentId, token: proxyToken }, 'run');
    const { grant } = await issueGrant(vault.deps, proxyUse.profile, 'rt-grant-run', Date.now() + 3_600_000);
    const grantEvent = () => apiEvent('POST', '/v1/proxy', { method: 'GET', url: `${upstream.url}/` }, { authorization: `Bearer ${grant}` });
    const replaceName = 'rt-replace';
    await vault.createProfile(replaceName);
    const token = await vault.createProfile('rt-update');
    const runToken = await vault.createProfile('rt-run');
    const sessionToken = await vault.createProfile('rt-session', vault.sessionAgentId, { should_save_session: true });
    // The first session save inserts; measure the steady state (a stored session is read and replaced).
    await invokeOk(vault.runEvent(sessionToken, vault.sessionAgentId));

    /** `rateLimit`: the case runs with VAULT_TENANT_RATE_LIMIT on (the AWS default), as a cold per-second counter. */
    const cases: { op: string; prepared: () => Prepared; min: { commands: number; sequential: number }; minNote: string; rateLimit?: boolean }[] = [
      {
        op: 'create',
        prepared: () => vault.createEvent('rt-create'),
        min: { commands: 3, sequential: 3 },
        minNote: 'read agent + conditional put; audit record',
      },
      {
        op: 'replace (upsert, existing name)',
        prepared: () => vault.upsertEvent({ agent_id: vault.agentId, name: replaceName, auth_data: { f0: 'x' } }),
        min: { commands: 3, sequential: 3 },
        minNote: 'BatchGet (agent + profile) + conditional put; audit record',
      },
      {
        op: 'update (upsert, auth_token)',
        prepared: () => vault.upsertEvent({ agent_id: vault.agentId, auth_token: token, auth_data: { f0: 'y' } }),
        min: { commands: 3, sequential: 3 },
        minNote: 'BatchGet (agent + profile) + conditional write; audit record',
      },
      {
        op: 'run (sync, token)',
        prepared: () => vault.runEvent(runToken),
        min: { commands: 4, sequential: 3 },
        minNote: 'BatchGet; audit record ‖ usage update (before the runner); run record',
      },
      {
        op: 'run + session save',
        prepared: () => vault.runEvent(sessionToken, vault.sessionAgentId),
        // The profile is read again after the session put (no transactions): a session must not
        // outlive a profile deleted or replaced while the runner ran.
        min: { commands: 6, sequential: 5 },
        minNote: 'BatchGet; audit record ‖ usage update; session put; profile re-check; run record',
      },
      {
        op: 'proxy (bearer, GET)',
        prepared: () => apiEvent('POST', '/v1/proxy', { agent_id: vault.agentId, auth_token: proxyToken, method: 'GET', url: `${upstream.url}/` }, vault.headers()),
        min: { commands: 3, sequential: 2 },
        minNote: 'BatchGet (agent + profile); audit record ‖ usage update (before the credential leaves the vault)',
      },
      {
        op: 'proxy (oauth2, GET, warm token cache)',
        prepared: oauthEvent,
        min: { commands: 3, sequential: 2 },
        minNote: 'BatchGet (agent + profile + cached token); audit record ‖ usage update — as for bearer',
      },
      {
        op: 'proxy (grant, GET)',
        prepared: grantEvent,
        min: { commands: 4, sequential: 3 },
        minNote: 'grant Get (names tenant, agent, profile); BatchGet (agent + profile); audit record ‖ usage update',
      },
      {
        op: 'proxy (bearer, GET) + tenant rate limit',
        prepared: () => apiEvent('POST', '/v1/proxy', { agent_id: vault.agentId, auth_token: proxyToken, method: 'GET', url: `${upstream.url}/` }, vault.headers()),
        min: { commands: 4, sequential: 3 },
        minNote: 'counter ADD (API-key middleware, before the handler); BatchGet; audit record ‖ usage update',
        rateLimit: true,
      },
      {
        op: 'proxy (grant, GET) + tenant rate limit',
        prepared: grantEvent,
        min: { commands: 5, sequential: 3 },
        minNote: 'grant Get; BatchGet ‖ counter ADD (the grant\'s tenant, once the grant unwrapped); audit record ‖ usage update',
        rateLimit: true,
      },
    ];
    const unlimited = vault.deps.config;
    const rows: string[][] = [];
    const json: Record<string, unknown> = {};
    for (const c of cases) {
      const p = c.prepared();
      // The limit is high enough never to refuse: the case counts the commands an admitted request sends.
      Object.assign(vault.deps, { config: c.rateLimit ? { ...unlimited, tenantRateLimit: 100_000 } : unlimited });
      meter.reset();
      try {
        await invokeOk(p);
      } finally {
        Object.assign(vault.deps, { config: unlimited });
      }
      const commands = meter.totalCommands;
      const detail = Object.entries(meter.counts)
        .map(([k, v]) => `${v}×${k.replace(/Command$/, '')}`)
        .join(' ');
      rows.push([
        c.op,
        String(commands),
        String(c.min.commands),
        fmtRatio(ratio(commands, c.min.commands)),
        String(meter.waves),
        String(c.min.sequential),
        fmtRatio(ratio(meter.waves, c.min.sequential)),
        String(meter.maxInFlight),
        detail,
      ]);
      json[c.op] = {
        commands: q(commands, 'commands'),
        sequential_round_trips: q(meter.waves, 'round trips'),
        max_parallel: q(meter.maxInFlight, 'commands'),
        design_min_commands: q(c.min.commands, 'commands'),
        design_min_sequential: q(c.min.sequential, 'round trips'),
        by_command: Object.fromEntries(Object.entries(meter.counts).map(([k, v]) => [k, q(v, 'commands')])),
        design_min_is: c.minNote,
      };
    }
    const text = table(
      '5. DynamoDB commands and sequential round trips per request (counted by the in-memory store as the DynamoDB implementation sends them)',
      ['request', 'commands', 'min', 'ratio', 'sequential', 'min', 'ratio', 'max ‖', 'commands sent'],
      rows,
      [
        'min = what the design allows (docs/architecture.md, "The table" and "Typed profiles, injection and grants"): create = agent read + conditional put; replace/update = one BatchGet (agent + profile) + conditional write;',
        '      each change writes its audit record first (one BatchWriteItem, before the change: write-ahead). run = 1 BatchGet; audit record ‖ usage update',
        '      (in parallel, before the credentials leave); run record; session save + 2 (put, profile re-check); proxy = 1 BatchGet;',
        '      audit record ‖ usage update; a grant call adds the grant Get in front (it names the profile). "max ‖" = most commands in flight at once.',
        '+ tenant rate limit: VAULT_TENANT_RATE_LIMIT on (the AWS default). An API-key call is counted by the middleware before the handler (+1 sequential);',
        '      a grant call is counted in the gate once the grant has unwrapped, in parallel with the profile read (+1 command, +0 sequential).',
        'API keys are cached per process for 5 s (shared/services/api-keys.ts, the revocation bound), so these warm requests send no API-key Get; a cold one adds 1 sequential Get.',
      ],
    );
    return { text, json };
  } finally {
    await vault.close();
    await upstream.close();
    await tokenServer.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Scale: 10 profiles vs 100,000 profiles in the store
// ---------------------------------------------------------------------------------------------

async function seedFiller(vault: InProcessVault, count: number): Promise<{ seconds: number }> {
  const db = vault.db;
  if (!db) throw new Error('scale: seeding needs the dynalite vault');
  const TableName = db.tableName;
  const k = (key: { pk: string; sk: string }) => ({ pk: { S: key.pk }, sk: { S: key.sk } });
  // The low-level client returns the item already marshalled: filler items are copies of a real
  // encrypted profile with their own name and slot, so seeding costs dynalite's work, not ours.
  const template = (
    await db.client.send(
      new GetItemCommand({
        TableName,
        Key: k(keys.profile(namedProfileRef(TENANT, vault.agentId, 'scale-0'))),
      }),
    )
  ).Item;
  if (!template) throw new Error('scale: template profile missing');
  const started = performance.now();
  const BATCH = 25;
  const IN_FLIGHT = 4;
  let next = 0;
  const worker = async () => {
    for (;;) {
      const first = next;
      if (first >= count) return;
      next += BATCH;
      let requests: { PutRequest: { Item: Record<string, AttributeValue> } }[] = [];
      for (let i = first; i < Math.min(first + BATCH, count); i++) {
        const name = `filler-${i}`;
        const slot = slotFor(TENANT, vault.agentId, name).toString('hex');
        requests.push({
          PutRequest: { Item: { ...template, ...k(keys.profile(profileRef(TENANT, vault.agentId, slot))), slot: { S: slot }, name: { S: name } } },
        });
      }
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 10) throw new Error('scale: dynalite kept returning unprocessed items');
        if (attempt > 0) await new Promise((r) => setTimeout(r, 20 * attempt));
        const out = await db.client.send(new BatchWriteItemCommand({ RequestItems: { [TableName]: requests } }));
        requests = (out.UnprocessedItems?.[TableName] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return { seconds: since(started) / 1000 };
}

export async function scale(runner: BenchRunner, budget: Budget): Promise<InProcessResult> {
  const target = budget.quick ? 10_000 : 100_000;
  const iterations = budget.quick ? 200 : 1000;
  const warmup = budget.quick ? 100 : 300;
  const vault = await startInProcessVault('dynalite', runner);
  try {
    const tokens: string[] = [];
    for (let i = 0; i < 10; i++) tokens.push(await vault.createProfile(`scale-${i}`));
    const measure = async () => ({
      run: summarize(
        await timeLoop(
          iterations,
          warmup,
          (i) => vault.runEvent(tokens[i % 10] as string),
          (p) => call(p),
        ),
      ),
      update: summarize(
        await timeLoop(
          iterations,
          warmup,
          (i) => vault.upsertEvent({ agent_id: vault.agentId, auth_token: tokens[i % 10], auth_data: { f1: `v${i}` } }),
          (p) => call(p),
        ),
      ),
    });
    const small = await measure();
    const seeded = await seedFiller(vault, target - 10);
    const large = await measure();
    const rows: string[][] = [];
    const json: Record<string, unknown> = {
      store: 'dynalite in memory, same process',
      profiles_small: q(10, 'profiles'),
      profiles_large: q(target, 'profiles'),
      seed_time: q(seeded.seconds, 's'),
      seed_rate: q((target - 10) / seeded.seconds, 'items/s'),
    };
    for (const op of ['run', 'update'] as const) {
      const s = small[op];
      const l = large[op];
      rows.push([
        op === 'run' ? 'run (sync, token)' : 'upsert-update',
        fmt(l.median),
        fmt(l.p99),
        fmt(s.median),
        fmt(s.p99),
        fmtRatio(ratio(l.median, s.median)),
        fmtRatio(ratio(l.p99, s.p99)),
      ]);
      json[op] = {
        [`with_${target}`]: us(l),
        with_10: us(s),
        ratio_median: q(ratio(l.median, s.median), 'ratio'),
        ratio_p99: q(ratio(l.p99, s.p99), 'ratio'),
      };
    }
    const text = table(
      `3. Scale: latency with ${target.toLocaleString('en')} profiles in the store vs 10 (floor) — in-process handlers over in-memory dynalite`,
      ['operation', `${target / 1000}k med µs`, `${target / 1000}k p99 µs`, '10 med µs', '10 p99 µs', 'med ratio', 'p99 ratio'],
      rows,
      [
        `seeded ${(target - 10).toLocaleString('en')} pre-built profile items (real encrypted template, distinct slots, all in the measured agent's partition)`,
        `with BatchWriteItem, 25 per batch, 4 batches in flight: ${seeded.seconds.toFixed(1)} s (${fmt((target - 10) / seeded.seconds)} items/s). ${iterations} timed calls per cell, tokens rotate over the 10 real profiles;`,
        'every timed run also stores a run item, so the store grows a little during each cell (more in the second).',
      ],
    );
    return { text, json };
  } finally {
    await vault.close();
  }
}

export type { Quantity };
