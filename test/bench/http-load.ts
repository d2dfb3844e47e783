import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import autocannon, { type Request as LoadRequest } from 'autocannon';
import { createDb } from '#shared/clients';
import { namedProfileRef, slotFor } from '#shared/credentials/profile-keys';
import { keys } from '#shared/keys';
import type { Budget } from './in-process.ts';
import { postRunner } from './lib/crypto-floor.ts';
import type { BenchRunner } from './lib/runner.ts';
import { fmt, fmtRatio, percentile, q, ratio, table } from './lib/stats.ts';
import { authData10, FIELDS, TENANT } from './lib/vault.ts';
import { profileRef } from '#shared/store/profile-ref';

const CONNECTIONS = 16;
const TABLE = 'agent-vault';

interface Child {
  readonly url: string;
  readonly storeSocket: string;
  readonly proc: ChildProcess;
}

/** Starts the local vault in a child process and waits for its `{url, storeSocket}` line. */
async function startVaultChild(apiKey: string): Promise<Child> {
  // BENCH_CHILD_CPU_PROF=DIR writes the child's CPU profile there (node --cpu-prof) to find where its time goes.
  const prof = process.env.BENCH_CHILD_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CHILD_CPU_PROF}`] : [];
  const proc = spawn(process.execPath, [...prof, '--import', 'tsx', 'test/bench/vault-child.ts'], {
    cwd: process.cwd(),
    env: { ...process.env, BENCH_API_KEY: apiKey, NODE_OPTIONS: '' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  const first = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('vault child did not start within 30 s')), 30_000);
    lines.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    proc.once('exit', (code) => reject(new Error(`vault child exited with ${code}`)));
  });
  const info = JSON.parse(first) as { url: string; storeSocket: string };
  return { ...info, proc };
}

async function stopChild(child: Child): Promise<void> {
  if (child.proc.exitCode !== null) return;
  const exited = new Promise((r) => child.proc.once('exit', r));
  child.proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 6_000))]);
  if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
}

async function post(url: string, path: string, apiKey: string, body: unknown): Promise<any> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

interface LoadFigures {
  readonly seconds: number;
  readonly ok: number;
  readonly conflicts: number;
  readonly otherErrors: number;
  readonly okLatencies: number[];
  readonly conflictLatencies: number[];
  readonly statusCodes: Record<string, number>;
}

/** Runs autocannon against one request shape; latencies are collected per status from `response` events. */
function load(url: string, seconds: number, request: LoadRequest): Promise<LoadFigures> {
  return new Promise((resolve, reject) => {
    const okLatencies: number[] = [];
    const conflictLatencies: number[] = [];
    const instance = autocannon({ url, connections: CONNECTIONS, duration: seconds, timeout: 30, requests: [request] }, (err, result) => {
      if (err) return reject(err);
      const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([k, v]) => [k, Number(v.count)]));
      const ok = Object.entries(statusCodes)
        .filter(([k]) => k.startsWith('2'))
        .reduce((a, [, v]) => a + v, 0);
      const conflicts = statusCodes['409'] ?? 0;
      resolve({
        seconds: result.duration,
        ok,
        conflicts,
        otherErrors: result.errors + result.timeouts + (result.non2xx - conflicts),
        okLatencies,
        conflictLatencies,
        statusCodes,
      });
    });
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) okLatencies.push(ms);
      else if (status === 409) conflictLatencies.push(ms);
    });
  });
}

interface FloorFigures {
  readonly seconds: number;
  readonly count: number;
  readonly latencies: number[];
}

/** CONNECTIONS workers each repeating `op` until `seconds` have passed. */
async function hammer(seconds: number, op: (worker: number, i: number) => Promise<unknown>): Promise<FloorFigures> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const t0 = performance.now();
        await op(w, i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, count: latencies.length, latencies };
}

export async function httpLoad(runner: BenchRunner, budget: Budget): Promise<{ text: string; json: unknown }> {
  const seconds = budget.quick ? 2 : 10;
  const warm = budget.quick ? 1 : 2;
  const apiKey = `avk_${randomBytes(32).toString('base64url')}`;
  const child = await startVaultChild(apiKey);
  // The same client the vault builds for its embedded store, through the store's Unix socket: the
  // floor's commands reach the same dynalite (the child's store thread) as the vault's.
  const dynamo = createDb({ storeSocket: child.storeSocket, region: 'local', tableName: TABLE }).client;
  try {
    const agentId = 'bench-agent';
    await post(child.url, '/v1/agents', apiKey, {
      agent_id: agentId,
      name: 'bench',
      input_args: FIELDS.map((name) => ({ name, required: false, secret: true })),
      runner: { type: 'webhook', url: runner.url, timeout_ms: 10_000 },
    });
    const updateToken = (
      await post(child.url, '/api/create_agent_auth_profile', apiKey, { name: 'load-update', agent_id: agentId, auth_data: authData10() })
    ).auth_token;
    const runToken = (
      await post(child.url, '/api/create_agent_auth_profile', apiKey, { name: 'load-run', agent_id: agentId, auth_data: authData10() })
    ).auth_token;
    const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };

    const dataJson = JSON.stringify(authData10());
    let n = 0;
    const shapes: Record<'create' | 'update' | 'run', LoadRequest> = {
      create: {
        method: 'POST',
        path: '/api/create_agent_auth_profile',
        headers,
        setupRequest: (req) => ({ ...req, body: `{"name":"load-${n++}","agent_id":"${agentId}","auth_data":${dataJson}}` }),
      },
      update: {
        method: 'POST',
        path: '/api/upsert_agent_auth_profile',
        headers,
        setupRequest: (req) => ({ ...req, body: `{"agent_id":"${agentId}","auth_token":"${updateToken}","auth_data":{"f0":"v${n++}"}}` }),
      },
      run: {
        method: 'POST',
        path: '/run_agent',
        headers,
        body: JSON.stringify({ agent_id: agentId, auth_token: runToken, parameters: {}, run_async: false }),
      },
    };
    // Each shape is warmed (JIT, connections) for `warm` seconds before its measured run.
    const measureShape = async (shape: LoadRequest) => {
      await load(child.url, warm, shape);
      return load(child.url, seconds, shape);
    };
    // Floors: bare DynamoDB calls from this process against the child's dynalite, same concurrency.
    const agentKey = { pk: { S: keys.agent(TENANT, agentId).pk }, sk: { S: keys.agent(TENANT, agentId).sk } };
    const runSlot = slotFor(TENANT, agentId, 'load-run').toString('hex');
    const profileKey = keys.profile(profileRef(TENANT, agentId, runSlot));
    const sessionKey = keys.session(profileRef(TENANT, agentId, runSlot));
    const k = (key: { pk: string; sk: string }) => ({ pk: { S: key.pk }, sk: { S: key.sk } });
    const profileItem = (await dynamo.send(new GetItemCommand({ TableName: TABLE, Key: k(profileKey), ConsistentRead: true })))
      .Item as Record<string, AttributeValue>;
    if (!profileItem) throw new Error('floor: profile item not found in the child dynalite');
    const fieldsAttr = profileItem.fields as AttributeValue;
    const putProfile = (w: number, i: number) =>
      dynamo.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: { ...profileItem, sk: { S: `PROFILE#floor-${w}-${i}-${n++}` } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    const getAgent = () => dynamo.send(new GetItemCommand({ TableName: TABLE, Key: agentKey, ConsistentRead: true }));
    // The write-ahead audit record, as the vault writes it (shared/repositories/audit.ts): one
    // BatchWriteItem of the record's tenant, agent and profile views and its writer's head. Its
    // items are copies of the audit item the setup's create wrote, under floor-only keys.
    const auditItem = (
      await dynamo.send(
        new QueryCommand({
          TableName: TABLE,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: keys.auditTenant(TENANT) } },
          ScanIndexForward: false,
          Limit: 1,
        }),
      )
    ).Items?.[0];
    if (!auditItem) throw new Error('floor: no audit item found in the child dynalite');
    const auditViews = [keys.auditTenant(TENANT), keys.auditAgent(TENANT, agentId), keys.auditProfile(TENANT, agentId, runSlot)];
    const writeAudit = (w: number, i: number) => {
      const sk = { S: `floor-${w}-${i}-${n++}` };
      return dynamo.send(
        new BatchWriteItemCommand({
          RequestItems: {
            [TABLE]: [
              ...auditViews.map((view) => ({ PutRequest: { Item: { ...auditItem, pk: { S: `FLOOR#${view}` }, sk } } })),
              { PutRequest: { Item: { ...auditItem, pk: { S: 'FLOOR#AUDITHEAD' }, sk: { S: `writer-${w}` } } } },
            ],
          },
        }),
      );
    };
    const updateUsage = () =>
      dynamo.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: k(keys.profile(namedProfileRef(TENANT, agentId, 'floor-usage'))),
          UpdateExpression: 'SET last_used_at = :at ADD use_count :one',
          ExpressionAttributeValues: { ':at': { S: new Date().toISOString() }, ':one': { N: '1' } },
        }),
      );
    const putRun = (w: number, i: number) =>
      dynamo.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: {
            pk: { S: `RUN#floor-${w}-${i}-${n++}` },
            sk: { S: 'RUN' },
            status: { S: 'succeeded' },
            result: { B: randomBytes(64) },
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    const readForRun = () =>
      dynamo.send(
        new BatchGetItemCommand({ RequestItems: { [TABLE]: { Keys: [agentKey, k(profileKey), k(sessionKey)], ConsistentRead: true } } }),
      );
    const callRunner = () => postRunner(runner.url, '{"session_id":"x","agent_id":"bench-agent","parameters":{},"session":null}');
    const measureFloor = async (op: (w: number, i: number) => Promise<unknown>) => {
      await hammer(warm, op);
      return hammer(seconds, op);
    };
    type FloorOp = (w: number, i: number) => Promise<unknown>;
    // The design minimum of section 5 (test/bench/in-process.ts, "min"): every change writes its
    // audit record first; a run writes it in parallel with the usage update, before the runner is
    // called, and its run record after. The `…NoAudit` floors are the same sequences without the
    // audit record (this section's floor before issue 21), kept for comparison.
    const floorOps: Record<'getItem' | 'putItem' | 'create' | 'update' | 'run' | 'createNoAudit' | 'runNoAudit', FloorOp> = {
      getItem: getAgent,
      putItem: putProfile,
      create: async (w, i) => {
        await getAgent();
        await writeAudit(w, i);
        await putProfile(w, i);
      },
      update: async (w, i) => {
        await dynamo.send(
          new BatchGetItemCommand({ RequestItems: { [TABLE]: { Keys: [agentKey, k(profileKey)], ConsistentRead: true } } }),
        );
        await writeAudit(w, i);
        await dynamo.send(
          new UpdateItemCommand({
            TableName: TABLE,
            Key: k(keys.profile(namedProfileRef(TENANT, agentId, 'floor-update'))),
            UpdateExpression: 'SET #f = :f, updated_at = :u ADD record_version :one',
            ExpressionAttributeNames: { '#f': 'fields' },
            ExpressionAttributeValues: { ':f': fieldsAttr, ':u': { S: new Date().toISOString() }, ':one': { N: '1' } },
          }),
        );
      },
      run: async (w, i) => {
        await readForRun();
        await Promise.all([writeAudit(w, i), updateUsage()]);
        await callRunner();
        await putRun(w, i);
      },
      createNoAudit: async (w, i) => {
        await getAgent();
        await putProfile(w, i);
      },
      runNoAudit: async (w, i) => {
        await readForRun();
        await callRunner();
        await Promise.all([putRun(w, i), updateUsage()]);
      },
    };

    // Each request shape and its floor are measured back to back, so a change of load on the
    // machine hits both alike; the 1-minute load average is recorded with each figure.
    const vault = {} as Record<'create' | 'update' | 'run', LoadFigures & { load: number }>;
    const floors = {} as Record<keyof typeof floorOps, FloorFigures & { load: number }>;
    for (const op of ['create', 'update', 'run'] as const) {
      vault[op] = { ...(await measureShape(shapes[op])), load: loadavg()[0] as number };
      floors[op] = { ...(await measureFloor(floorOps[op])), load: loadavg()[0] as number };
      // The previous floor right after, so the same load hits it too.
      const previous = op === 'create' ? 'createNoAudit' : op === 'run' ? 'runNoAudit' : undefined;
      if (previous) floors[previous] = { ...(await measureFloor(floorOps[previous])), load: loadavg()[0] as number };
    }
    for (const op of ['getItem', 'putItem'] as const) floors[op] = { ...(await measureFloor(floorOps[op])), load: loadavg()[0] as number };

    const rows: string[][] = [];
    const json: Record<string, unknown> = {
      connections: q(CONNECTIONS, 'connections'),
      duration_per_figure: q(seconds, 's'),
      vault: {},
      floor: {},
    };
    const floorStats = (f: FloorFigures) => ({
      rps: f.count / f.seconds,
      p50: percentile(f.latencies, 50),
      p99: percentile(f.latencies, 99),
    });
    const floorJson = (f: FloorFigures & { load: number }, what: string) => {
      const s = floorStats(f);
      return {
        what,
        requests_per_second: q(s.rps, 'req/s'),
        p50: q(s.p50, 'ms'),
        p99: q(s.p99, 'ms'),
        requests: q(f.count, 'count'),
        load_average_1min_after: q(f.load, 'runnable tasks'),
      };
    };
    const floorWhat = {
      getItem: 'GetItem (agent item)',
      putItem: 'conditional PutItem (10-field profile item)',
      create: 'GetItem agent → BatchWriteItem audit record (4 items) → conditional PutItem profile',
      update: 'BatchGetItem (agent, profile) → BatchWriteItem audit record → UpdateItem fields',
      run: 'BatchGetItem (agent, profile, session) → BatchWriteItem audit record ‖ UpdateItem usage → POST runner → PutItem run',
      createNoAudit: 'GetItem agent → conditional PutItem profile',
      runNoAudit: 'BatchGetItem (agent, profile, session) → POST runner → PutItem run ‖ UpdateItem usage',
    };
    for (const [key, f] of Object.entries(floors))
      (json.floor as Record<string, unknown>)[key] = floorJson(f, floorWhat[key as keyof typeof floorWhat]);

    const label = { create: 'create', update: 'upsert-update (one token)', run: 'run (sync, token)' };
    for (const op of ['create', 'update', 'run'] as const) {
      const v = vault[op];
      const f = floorStats(floors[op]);
      const rps = v.ok / v.seconds;
      const p50 = percentile(v.okLatencies, 50);
      const p99 = percentile(v.okLatencies, 99);
      rows.push([
        label[op],
        fmt(rps),
        fmt(p50),
        fmt(p99),
        fmt(v.conflicts / v.seconds),
        String(v.otherErrors),
        fmt(f.rps),
        fmt(f.p50),
        fmt(f.p99),
        fmtRatio(ratio(rps, f.rps)),
        fmtRatio(ratio(p50, f.p50)),
        fmtRatio(ratio(p99, f.p99)),
        `${v.load.toFixed(1)}/${floors[op].load.toFixed(1)}`,
      ]);
      (json.vault as Record<string, unknown>)[op] = {
        requests_per_second_2xx: q(rps, 'req/s'),
        p50_2xx: q(p50, 'ms'),
        p99_2xx: q(p99, 'ms'),
        conflicts_409_per_second: q(v.conflicts / v.seconds, 'req/s'),
        conflict_p50: q(percentile(v.conflictLatencies, 50), 'ms'),
        other_errors: q(v.otherErrors, 'count'),
        status_codes: Object.fromEntries(Object.entries(v.statusCodes).map(([k, c]) => [k, q(c, 'responses')])),
        floor: floorWhat[op],
        rps_ratio_to_floor: q(ratio(rps, f.rps), 'ratio'),
        ...(op === 'update'
          ? {}
          : {
              rps_ratio_to_floor_without_audit_record: q(
                ratio(rps, floorStats(floors[op === 'create' ? 'createNoAudit' : 'runNoAudit']).rps),
                'ratio',
              ),
            }),
        p50_ratio_to_floor: q(ratio(p50, f.p50), 'ratio'),
        p99_ratio_to_floor: q(ratio(p99, f.p99), 'ratio'),
        load_average_1min_after: q(v.load, 'runnable tasks'),
      };
    }
    for (const [op, key] of [
      ['create', 'createNoAudit'],
      ['run', 'runNoAudit'],
    ] as const) {
      const f = floorStats(floors[key]);
      const rps = vault[op].ok / vault[op].seconds;
      rows.push([
        `${label[op]} vs floor without audit record`,
        fmt(rps),
        '',
        '',
        '',
        '',
        fmt(f.rps),
        fmt(f.p50),
        fmt(f.p99),
        fmtRatio(ratio(rps, f.rps)),
        '',
        '',
        `-/${floors[key].load.toFixed(1)}`,
      ]);
    }
    for (const key of ['getItem', 'putItem'] as const) {
      const f = floorStats(floors[key]);
      rows.push([
        `floor: bare ${floorWhat[key]}`,
        '',
        '',
        '',
        '',
        '',
        fmt(f.rps),
        fmt(f.p50),
        fmt(f.p99),
        '',
        '',
        '',
        `-/${floors[key].load.toFixed(1)}`,
      ]);
    }
    const text = table(
      `2. HTTP load: local server (child process, in-memory dynalite in its store thread) ← autocannon, ${CONNECTIONS} connections × ${seconds} s each (after ${warm} s warm-up), loopback`,
      [
        'request',
        '2xx req/s',
        'p50 ms',
        'p99 ms',
        '409/s',
        'errors',
        'floor req/s',
        'floor p50',
        'floor p99',
        'rps/floor',
        'p50/floor',
        'p99/floor',
        'load v/f',
      ],
      rows,
      [
        'floor = the same request\'s minimal DynamoDB sequence (design minimum, section 5\'s "min") sent as bare SDK calls from the bench process,',
        "  16 workers, through the store's Unix socket to the same dynalite the vault uses (the child's store thread; the vault's own calls are messages to it):",
        `  create: ${floorWhat.create}; update: ${floorWhat.update}; run: ${floorWhat.run}`,
        `  "vs floor without audit record": the floor before issue 21 (create: ${floorWhat.createNoAudit}; run: ${floorWhat.runNoAudit}), below the design minimum.`,
        'latencies are for 2xx answers only; the 409s of the one-token update are lost optimistic-concurrency races (expected), counted separately.',
        'the vault child logs only warnings (request lines off); the runner is a constant-answer loopback server in the bench process.',
        'load v/f = 1-minute load average right after the vault figure / its floor (2 cores; other work on the machine shows here).',
      ],
    );
    return { text, json };
  } finally {
    dynamo.destroy();
    await stopChild(child);
  }
}
