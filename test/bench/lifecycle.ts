import { writeAudit } from '#shared/audit/log';
import { namedProfileRef } from '#shared/credentials/profile-keys';
import { profileEvent, sourceIpRefusal, verifiedProfileRefusal } from '#shared/credentials/policy';
import type { Caller } from '#shared/deps';
import { PatchProfileBody } from '#shared/schemas/lifecycle';

import { handlers, lambdaContext, type Prepared } from './lib/events.ts';
import type { BenchRunner } from './lib/runner.ts';
import { fmt, fmtRatio, q, ratio, summarize, table, timeLoop } from './lib/stats.ts';
import { startInProcessVault, TENANT } from './lib/vault.ts';
import type { Budget, InProcessResult } from './in-process.ts';
import { patchProfile } from '#test/support/services';

// ---------------------------------------------------------------------------------------------
// 9. Lifecycle policy and audit: their cost per use
// ---------------------------------------------------------------------------------------------

async function call(p: Prepared): Promise<void> {
  const res = (await handlers[p.group](p.event, lambdaContext)) as { statusCode?: number; body?: string };
  if (res.statusCode !== 200) throw new Error(`${p.event.routeKey} answered ${res.statusCode}: ${res.body}`);
}

/**
 * A sync run of a profile with a caller-IP allow-list (the bench's 127.0.0.1 among 8 entries,
 * IPv4 and IPv6) and its audit record, measured whole; then the policy checks and the audit write
 * alone (record + HMAC + the BatchWriteItem through the same store), back to back. The run
 * without them is the difference, so the ratio is full run / (full run − audit and policy).
 */
export async function auditPolicyCost(runner: BenchRunner, budget: Budget): Promise<InProcessResult> {
  const iterations = budget.quick ? 300 : 2000;
  const warmup = budget.quick ? 50 : 300;
  const rows: string[][] = [];
  const json: Record<string, unknown> = {};
  for (const store of ['memory', 'dynalite'] as const) {
    const vault = await startInProcessVault(store, runner);
    try {
      const token = await vault.createProfile('audited');
      const caller: Caller = { tenant: TENANT, apiKeyId: 'bench', role: 'admin', sourceIp: '127.0.0.1', requestId: 'bench' };
      const allowList = ['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12', '2001:db8::/32', 'fd00::/8', '198.51.100.7', '203.0.113.0/24', '127.0.0.1'];
      await patchProfile(vault.deps, caller, vault.agentId, 'audited', PatchProfileBody.parse({ allowed_source_ips: allowList }));
      const item = await vault.deps.store.profiles.get(namedProfileRef(TENANT, vault.agentId, 'audited'));
      if (!item) throw new Error('bench profile missing');
      vault.use();
      const full = summarize(await timeLoop(iterations, warmup, () => vault.runEvent(token), (p) => call(p)));
      const part = summarize(
        await timeLoop(iterations, warmup, () => undefined, async () => {
          if (sourceIpRefusal(item, caller) || verifiedProfileRefusal(item, vault.deps.now())) throw new Error('bench profile refused');
          await writeAudit(vault.deps, profileEvent(caller, 'run', item, 200, 'ok'));
        }),
      );
      const without = full.median - part.median;
      const label = store === 'memory' ? 'in-memory store' : 'dynalite (in memory)';
      rows.push([label, String(full.n), fmt(full.median), fmt(part.median), fmt(without), fmtRatio(ratio(full.median, without))]);
      json[label] = {
        run_with_audit_and_policy_median: q(full.median, 'µs'),
        audit_and_policy_median: q(part.median, 'µs'),
        run_without_median_estimated: q(without, 'µs'),
        ratio_with_to_without: q(ratio(full.median, without), 'ratio'),
        iterations: q(full.n, 'count'),
      };
    } finally {
      await vault.close();
    }
  }
  const text = table(
    '9. Audit and lifecycle policy per use (sync run, 10-field profile, 8-entry IP allow-list; in process)',
    ['store', 'n', 'run med µs', 'audit+policy med µs', 'run without (est.) µs', 'with/without'],
    rows,
    [
      'audit+policy = IP allow-list + active/expiry checks + audit record (HMAC) + its BatchWriteItem of 3 items, timed alone on the same store;',
      '"run without" = run − audit+policy (an estimate: the vault has no switch to turn the audit off). On DynamoDB the audit adds one',
      'round trip, issued in parallel with the usage update (section 5), so its latency is one write (~5 ms in region), not a CPU cost.',
    ],
  );
  return { text, json };
}
