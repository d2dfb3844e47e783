import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Budget } from './in-process.ts';
import { handlers, lambdaContext } from './lib/events.ts';
import { startBenchRunner } from './lib/runner.ts';
import { fmt, table } from './lib/stats.ts';
import { startInProcessVault } from './lib/vault.ts';
import { apiEvent } from './lib/events.ts';
import { startEchoUpstream } from '#test/support/upstream';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

function where(url: string, line: number): string {
  if (!url) return '(native)';
  let path = url;
  try {
    if (url.startsWith('file://')) path = relative(process.cwd(), fileURLToPath(url));
  } catch {
    // keep the URL as it is
  }
  path = path.replace(/^.*node_modules\//, 'nm/');
  // tsx-transformed TypeScript reports generated positions; the file is what is meaningful.
  return path.endsWith('.ts') ? path : `${path}:${line + 1}`;
}

/** Where self time goes, by area; native frames count toward the JS frame that called them. */
function category(url: string): string {
  if (url.includes('/shared/crypto/')) return 'vault crypto code (shared/crypto, JS part)';
  if (url.startsWith('node:internal/crypto') || url === 'node:crypto') return 'node:crypto (JS layer + OpenSSL natives)';
  if (url.includes('/test/bench/')) return 'bench harness (in-memory store, loop)';
  if (url.includes('/node_modules/zod/')) return 'zod (request + item validation)';
  if (url.includes('/node_modules/@middy/')) return 'middy';
  if (url.includes('/node_modules/@aws-sdk/') || url.includes('/node_modules/@smithy/')) return 'AWS SDK (command objects)';
  if (url.includes('/shared/') || url.includes('/functions/')) return 'vault code (services, repositories, http, schemas)';
  if (url.includes('/node_modules/')) return 'other packages';
  if (url.startsWith('node:')) return 'node internals (Buffer, events, …)';
  return 'other';
}

interface Attributed {
  readonly fn: string;
  readonly at: string;
  readonly category: string;
}

/** Names each profile node; a native frame is named after itself and its nearest JS caller. */
function attribute(profile: CpuProfile): Map<number, Attributed> {
  const parent = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const out = new Map<number, Attributed>();
  for (const node of profile.nodes) {
    const f = node.callFrame;
    const name = f.functionName || '(anonymous)';
    if (f.url) {
      out.set(node.id, { fn: name, at: where(f.url, f.lineNumber), category: category(f.url) });
      continue;
    }
    if (name === '(garbage collector)') {
      out.set(node.id, { fn: name, at: '', category: 'garbage collector' });
      continue;
    }
    let caller = parent.get(node.id);
    while (caller && !caller.callFrame.url) caller = parent.get(caller.id);
    out.set(node.id, {
      fn: caller ? `${name} ← ${caller.callFrame.functionName || '(anonymous)'}` : name,
      at: caller ? `native, from ${where(caller.callFrame.url, caller.callFrame.lineNumber)}` : '(native)',
      category: caller ? category(caller.callFrame.url) : 'other',
    });
  }
  return out;
}

/** Self time per function and per area, largest first. */
export function selfTime(profile: CpuProfile, n: number) {
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  const names = attribute(profile);
  const byFn = new Map<string, { fn: string; at: string; us: number }>();
  const byCategory = new Map<string, number>();
  for (const [id, t] of self) {
    const a = names.get(id);
    if (!a || a.fn === '(idle)') continue;
    const key = `${a.fn}@${a.at}`;
    const cur = byFn.get(key) ?? { fn: a.fn, at: a.at, us: 0 };
    cur.us += t;
    byFn.set(key, cur);
    byCategory.set(a.category, (byCategory.get(a.category) ?? 0) + t);
  }
  const top = [...byFn.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, n)
    .map((e) => ({ fn: e.fn, at: e.at, ms: e.us / 1000, share: e.us / total }));
  const areas = [...byCategory.entries()].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, ms: us / 1000, share: us / total }));
  return { top, areas };
}

/**
 * CPU-profiles the in-process hot paths (create, upsert-update, run and proxy over the
 * in-memory store), writes one .cpuprofile per loop (open it in Chrome DevTools) and prints the
 * top self-time functions and areas of each.
 */
export async function cpuProfile(file: string, budget: Budget): Promise<string> {
  const iterations = budget.quick ? 1000 : 5000;
  const runner = await startBenchRunner();
  const vault = await startInProcessVault('memory', runner);
  const upstream = await startEchoUpstream();
  const session = new Session();
  session.connect();
  let out = '';
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    const token = await vault.createProfile('profile-update');
    const runToken = await vault.createProfile('profile-run');
    const proxyToken = await vault.createProfile('profile-proxy', undefined, {
      auth_type: 'bearer',
      auth_data: { token: 'bench-bearer-token-0123456789' },
      allowed_hosts: [`127.0.0.1:${upstream.port}`],
    });
    const proxyBody = { agent_id: vault.agentId, auth_token: proxyToken, method: 'GET', url: `${upstream.url}/v1/items` };
    const loops: [string, (i: number) => ReturnType<typeof vault.createEvent>][] = [
      ['create', (i) => vault.createEvent(`prof-${i}`)],
      ['upsert-update', (i) => vault.upsertEvent({ agent_id: vault.agentId, auth_token: token, auth_data: { f0: `v${i}` } })],
      ['run', () => vault.runEvent(runToken)],
      ['proxy', () => apiEvent('POST', '/v1/proxy', proxyBody, vault.headers())],
    ];
    for (const [name, make] of loops) {
      for (let i = 0; i < 300; i++) {
        const p = make(-i - 1);
        await handlers[p.group](p.event, lambdaContext);
      }
      // Events are built before the profiler starts, so the profile holds the handler's work only.
      const events = Array.from({ length: iterations }, (_, i) => make(i));
      await session.post('Profiler.start');
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) {
        const p = events[i] as (typeof events)[number];
        const res = (await handlers[p.group](p.event, lambdaContext)) as { statusCode?: number };
        if (res.statusCode !== 200) throw new Error(`${name} answered ${res.statusCode}`);
        if (i % 100 === 99) upstream.seen.length = 0;
      }
      const wall = performance.now() - t0;
      const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
      const target = file.replace(/(\.cpuprofile)?$/, `-${name}.cpuprofile`);
      writeFileSync(target, JSON.stringify(profile));
      const { top, areas } = selfTime(profile, 25);
      out += table(
        `CPU profile: ${name}, ${iterations} calls over the in-memory store, ${fmt((wall * 1000) / iterations)} µs/call wall (profiler on) — ${target}`,
        ['self time by area', 'self ms', 'share'],
        areas.map((a) => [a.area, fmt(a.ms), `${(a.share * 100).toFixed(1)}%`]),
      );
      out += table(
        `top self-time functions (${name}; native frames named "native ← JS caller")`,
        ['function', 'where', 'self ms', 'share'],
        top.map((t) => [t.fn.slice(0, 60), t.at.slice(0, 70), fmt(t.ms), `${(t.share * 100).toFixed(1)}%`]),
      );
      out += '\n';
    }
  } finally {
    session.disconnect();
    await vault.close();
    await runner.close();
    await upstream.close();
  }
  return out;
}
