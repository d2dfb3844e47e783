/**
 * `npm run bench` — performance figures for agent-vault, each paired with a floor measured in
 * the same run and printed as a ratio:
 *   1. in-process cost per operation (handler exports + the in-memory store / in-memory dynalite)
 *      vs bare node:crypto doing the same cryptographic work;
 *   2. HTTP load on the local server (child process, autocannon) vs bare dynalite calls;
 *   3. scale: latency with 100,000 profiles (quick: 10,000) vs 10 profiles;
 *   4. cold start: esbuild bundles of each function vs a DynamoDB-client-only bundle;
 *   5. DynamoDB commands and sequential round trips per request vs the design minimum;
 *   6. the proxy's added latency: POST /v1/proxy vs a direct call to the same loopback upstream;
 *   7. the leak guard: building a run's redaction forms and redacting answers vs JSON.parse;
 *   8. OAuth2 token-endpoint calls per 50 parallel uses (single-flight refresh; must print 1);
 *   9. the audit record and lifecycle policy per use, as a ratio to a run without them;
 *  10. delegated OAuth: refresh requests per 50 parallel uses of an expired connected profile
 *      (must print 1) and the proxy's added latency for oauth2_authorization_code.
 * It ends with a one-screen summary: each goal of docs/architecture.md, "Performance", met or not.
 *
 * Options: --quick (short smoke run), --json FILE (write every figure with units),
 *          --only 1,2,… (run some sections), --profile FILE (CPU-profile the in-process
 *          create/update loop instead, write a .cpuprofile and print the top self-time functions).
 * All load goes to 127.0.0.1 and is bounded in count and time. Not part of `npm test`.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { buildConsole } from '../../console/build.ts';
import { coldStart } from './cold-start.ts';
import { httpLoad } from './http-load.ts';
import { inProcessCost, roundTrips, scale } from './in-process.ts';
import { delegatedOAuth, oauthSingleFlight } from './oauth.ts';
import { proxyLatency } from './proxy.ts';
import { startBenchRunner } from './lib/runner.ts';
import { q } from './lib/stats.ts';
import { auditPolicyCost } from './lifecycle.ts';
import { cpuProfile } from './profile.ts';
import { redactionCost } from './redaction.ts';
import { summary } from './summary.ts';

interface Args {
  quick: boolean;
  json?: string;
  only?: Set<number>;
  profile?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--json') args.json = argv[++i];
    else if (a === '--only') args.only = new Set((argv[++i] ?? '').split(',').map(Number));
    else if (a === '--profile') args.profile = argv[++i];
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: npm run bench -- [--quick] [--json FILE] [--only 1,2,3,4,5,6,7,8,9,10] [--profile FILE.cpuprofile]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (args.json === undefined && argv.includes('--json')) throw new Error('--json needs a file name');
  return args;
}

function machine() {
  const cpu = cpus()[0];
  return {
    nproc: q(cpus().length, 'cpus'),
    cpu_model: cpu?.model ?? 'unknown',
    memory: q(Math.round(totalmem() / 2 ** 20), 'MiB'),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    load_average_at_start: loadavg().map((l) => q(l, 'runnable tasks')),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // The local server's meta function imports the console's generated module.
  buildConsole();
  // The SDK warns once per process that Node 20 support ends in 2027; it says nothing about the figures.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const budget = { quick: args.quick };
  const m = machine();
  const started = performance.now();
  process.stdout.write(
    `agent-vault bench (${args.quick ? 'quick' : 'full'}) — ${m.nproc.value} × ${m.cpu_model}, ${m.memory.value} MiB, node ${m.node}, ${m.platform}, ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (other work on this machine skews the figures)\n\n`,
  );
  if (args.profile) {
    process.stdout.write(await cpuProfile(args.profile, budget));
    process.stdout.write('bench: done\n');
    return;
  }
  const want = (n: number) => !args.only || args.only.has(n);
  const report: Record<string, unknown> = { machine: m, mode: args.quick ? 'quick' : 'full', started_at: new Date().toISOString() };
  const runner = await startBenchRunner();
  try {
    const sections: [number, string, () => Promise<{ text: string; json: unknown }>][] = [
      [1, 'in_process_cost', () => inProcessCost(runner, budget)],
      [5, 'dynamodb_round_trips', () => roundTrips(runner)],
      [3, 'scale', () => scale(runner, budget)],
      [2, 'http_load', () => httpLoad(runner, budget)],
      [4, 'cold_start', () => coldStart(budget)],
      [6, 'proxy_latency', () => proxyLatency(runner, budget)],
      [7, 'redaction', () => redactionCost(budget)],
      [8, 'oauth_single_flight', () => oauthSingleFlight(runner, budget)],
      [9, 'audit_policy_cost', () => auditPolicyCost(runner, budget)],
      [10, 'delegated_oauth', () => delegatedOAuth(runner, budget)],
    ];
    for (const [n, key, run] of sections) {
      if (!want(n)) continue;
      const t0 = performance.now();
      const { text, json } = await run();
      report[key] = json;
      process.stdout.write(`${text}   (section ${n}: ${((performance.now() - t0) / 1000).toFixed(1)} s)\n\n`);
    }
  } finally {
    await runner.close();
  }
  process.stdout.write(summary(report, loadavg()));
  report.total_time = q((performance.now() - started) / 1000, 's');
  report.load_average_at_end = loadavg().map((l) => q(l, 'runnable tasks'));
  if (args.json) {
    writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`figures written to ${args.json}\n`);
  }
  process.stdout.write(
    `total ${((performance.now() - started) / 1000).toFixed(1)} s, load average at end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\nbench: done\n`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
