import { randomBytes } from 'node:crypto';
import type { Config } from '../config.ts';
import type { ServerKeyRing } from '../crypto/server-key.ts';
import { HttpError } from '../errors.ts';
import { keys } from '../keys.ts';
import type { Logger } from '../log.ts';
import {
  type AuditChainLink,
  type AuditEventInput,
  AuditHead,
  AuditRecord,
  auditHeadProblem,
  auditRecordProblem,
  sealAuditHead,
  sealAuditRecord,
} from './record.ts';
import type { AuditQuery, AuditStore, Store } from '../store/types.ts';
import { AUDIT_ITEM_ATTRIBUTES } from '../store/items.ts';
import { countMetric, METRIC } from '../metrics.ts';

/** What writing and reading the audit log needs (a subset of Deps). */
export interface AuditDeps {
  readonly config: Pick<Config, 'auditRetentionSeconds'>;
  readonly store: Pick<Store, 'audit'>;
  readonly serverKeys: ServerKeyRing;
  readonly log: Logger;
  readonly now: () => Date;
}

/** 503 when the audit record of a use or change cannot be written: the vault fails closed. */
export class AuditUnavailableError extends HttpError {
  override readonly name = 'AuditUnavailableError';
  readonly status = 503;
  readonly code = 'audit_unavailable';
  constructor() {
    super('The audit log cannot be written right now, so the vault refuses this request (fail-closed); retry after a moment.');
    this.headers['retry-after'] = '1';
  }
}

/**
 * A writer: one chain of records (shared/audit/record.ts AuditChainLink) with its own head item.
 * Each process keeps its writers per store and tenant, and a writer has at most one write in
 * flight: concurrent writes take different writers (a new one when none is idle), so a chain's
 * records and head are written in order without a lock or a key shared by every process.
 */
interface Writer {
  readonly id: string;
  /** The last record written (seq 0: none yet). */
  seq: number;
  last?: { mac: string; expires_at: number };
}
const idleWriters = new WeakMap<AuditStore, Map<string, Writer[]>>();

function takeWriter(store: AuditStore, tenant: string): Writer {
  return idleWriters.get(store)?.get(tenant)?.pop() ?? { id: randomBytes(8).toString('hex'), seq: 0 };
}

function releaseWriter(store: AuditStore, tenant: string, writer: Writer): void {
  const byTenant = idleWriters.get(store) ?? new Map<string, Writer[]>();
  idleWriters.set(store, byTenant);
  const idle = byTenant.get(tenant);
  if (idle) idle.push(writer);
  else byTenant.set(tenant, [writer]);
}

/**
 * Writes one audit record (every view and its writer's head, one round trip) and returns it.
 * Throws AuditUnavailableError if it cannot be written: callers write the record BEFORE handing
 * out credentials or answering a change, so nothing happens that the log does not show.
 */
export async function writeAudit(deps: AuditDeps, event: AuditEventInput): Promise<AuditRecord> {
  const writer = takeWriter(deps.store.audit, event.tenant);
  const link: AuditChainLink = { writer: writer.id, seq: writer.seq + 1, prev_mac: writer.last?.mac, prev_expires_at: writer.last?.expires_at };
  const record = sealAuditRecord(deps.serverKeys, event, deps.now(), deps.config.auditRetentionSeconds, link);
  try {
    await deps.store.audit.write(record, sealAuditHead(deps.serverKeys, record as AuditRecord & AuditChainLink)); // the record carries its link
    writer.seq = link.seq;
    writer.last = { mac: record.mac, expires_at: record.expires_at };
    releaseWriter(deps.store.audit, event.tenant, writer);
  } catch (err) {
    // The writer is dropped, not released: whether any of this batch landed is unknown, so its
    // chain ends here (the next write starts a new writer) rather than linking past a record
    // that may not exist. A batch that landed part-way is reported by verify-audit.
    countMetric(METRIC.auditWriteFailure);
    deps.log.log('error', 'audit record could not be written; request refused', {
      action: record.action,
      tenant: record.tenant,
      agent_id: record.agent_id,
      request_id: record.request_id,
      error_name: err instanceof Error ? err.name : typeof err,
    });
    throw new AuditUnavailableError();
  }
  return record;
}

/**
 * Write-ahead audit for a change: the record is written BEFORE the change (no record, no change:
 * AuditUnavailableError, 503), then the change runs. If the change then fails, a second record
 * says so (its status and error code, `failed` for a fault of ours) and the error goes on to the
 * caller; that second record is best effort (logged when it cannot be written): the first one
 * already shows the attempt. `event` describes the change as it will be answered on success.
 */
export async function auditedChange<T>(deps: AuditDeps, event: AuditEventInput, change: () => Promise<T>): Promise<T> {
  await writeAudit(deps, event);
  return withFailureRecord(deps, event, change);
}

/**
 * Runs `action`, whose record (`event`, written before it) is already in the log; if it fails,
 * a second record says how (auditFailure) and the error goes on to the caller.
 */
export async function withFailureRecord<T>(deps: AuditDeps, event: AuditEventInput, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (err) {
    await auditFailure(deps, event, err);
    throw err;
  }
}

/**
 * The second record of something whose record was written before it and which then failed: the
 * same event with the error's status and code (`failed`, 500, for a fault of ours). Best effort:
 * writeAudit logs it when it cannot be written; the first record already shows the attempt.
 */
export async function auditFailure(deps: AuditDeps, event: AuditEventInput, err: unknown): Promise<void> {
  const failed = err instanceof HttpError ? { status: err.status, result: err.code } : { status: 500, result: 'failed' };
  await writeAudit(deps, { ...event, ...failed }).catch(() => undefined);
}

/**
 * Audits a refusal (expired, inactive, source IP, method…) and then throws the refusal. If the
 * record cannot be written the refusal still stands (it hands nothing out), logged as an error.
 */
export async function auditRefusal(deps: AuditDeps, event: Omit<AuditEventInput, 'status' | 'result'>, refusal: Error & { status: number; code: string }): Promise<never> {
  try {
    await writeAudit(deps, { ...event, status: refusal.status, result: refusal.code });
  } catch {
    // writeAudit logged it; the caller is refused either way.
  }
  throw refusal;
}

/** One page of a view of the log, newest first. */
export function queryAudit(deps: Pick<AuditDeps, 'store' | 'now'>, q: Omit<AuditQuery, 'nowSeconds'>) {
  return deps.store.audit.query({ ...q, nowSeconds: Math.floor(deps.now().getTime() / 1000) });
}

/** One finding of verify-audit: where, what, and whether something was edited, moved or deleted. */
export interface AuditProblem {
  readonly pk: string;
  readonly sk: string;
  readonly problem: string;
  readonly kind: 'edited' | 'moved' | 'deleted';
}

export interface AuditVerification {
  /** Record items (view copies) checked; writers' heads are checked too but not counted. */
  readonly checked: number;
  readonly problems: readonly AuditProblem[];
}

type Chained = AuditRecord & AuditChainLink;

const HEAD_ITEM_ATTRIBUTES: ReadonlySet<string> = new Set(['pk', 'sk', 'entity', ...Object.keys(AuditHead.shape)]);

/**
 * Checks every stored audit item (all views) and every writer's chain.
 *
 * Edits: each record's MAC under the server key ring, that it carries no attribute outside the
 * record schema, and that its key matches its content (a moved record).
 *
 * Deletions (records with a chain link, shared/audit/record.ts): per writer,
 * - sequence continuity: a gap is a deletion unless the record after it says its predecessor is
 *   past its TTL (`prev_expires_at` <= now: DynamoDB removed it, or will);
 * - each record's `prev_mac` and `prev_expires_at` are its predecessor's (a replaced record);
 * - the head: present while the chain's newest record is unexpired, MAC intact, and naming the
 *   newest record found (sequence and MAC) — so deleting the newest records shows;
 * - every unexpired record is present in each of its views (tenant, agent, profile).
 * Records from before chains (no `writer`) are checked for edits only, as before.
 *
 * Limits (what this cannot see): deleting a writer's whole chain together with its head leaves
 * nothing to compare against; an attacker who saved an older copy of a head item (it is MAC'd,
 * not versioned) can delete the records after it and put that copy back. Either needs an anchor
 * outside the table (exported or notarized heads, as CloudTrail delivers its digest files to S3),
 * which this log does not have. A write that failed part-way (the request was answered 503)
 * shows as a deletion at its writer's last record. An edited record can also show as missing in
 * its chain, next to its MAC problem.
 */
export async function verifyAuditLog(
  deps: Pick<AuditDeps, 'store' | 'serverKeys'> & { readonly now?: () => Date },
  tenant?: string,
): Promise<AuditVerification> {
  const nowSeconds = Math.floor((deps.now?.() ?? new Date()).getTime() / 1000);
  let checked = 0;
  const problems: AuditProblem[] = [];
  /** Views found per record id (any copy claiming the id and view, intact or not: a bad copy is reported on its own). */
  const views = new Map<string, Set<string>>();
  /** Chained records by id, with whether some copy of it verified. */
  const chained = new Map<string, { record: Chained; intact: boolean }>();
  const heads: Record<string, unknown>[] = [];
  for await (const item of deps.store.audit.scanAll(tenant)) {
    if (item.entity === 'audit_head') {
      heads.push(item);
      continue;
    }
    checked++;
    const pk = String(item.pk);
    const sk = String(item.sk);
    if (typeof item.id === 'string') {
      const seen = views.get(item.id) ?? new Set<string>();
      seen.add(String(item.view));
      views.set(item.id, seen);
    }
    const extra = Object.keys(item).filter((k) => !AUDIT_ITEM_ATTRIBUTES.has(k));
    if (extra.length > 0) {
      problems.push({ pk, sk, kind: 'edited', problem: `it has attributes no audit record has: ${extra.join(', ')}` });
      continue;
    }
    const parsed = AuditRecord.safeParse(item);
    if (!parsed.success) {
      problems.push({ pk, sk, kind: 'edited', problem: 'it is not a well-formed audit record' });
      continue;
    }
    const problem = auditRecordProblem(deps.serverKeys, parsed.data);
    if (problem) problems.push({ pk, sk, kind: 'edited', problem });
    else if (sk !== keys.auditSort(parsed.data.at, parsed.data.id) || pk !== viewKey(String(item.view), parsed.data)) {
      problems.push({ pk, sk, kind: 'moved', problem: 'its key does not match its tenant, agent, profile, time and id (the record was moved)' });
    }
    const r = parsed.data;
    if (r.writer !== undefined && r.seq !== undefined) {
      const known = chained.get(r.id);
      if (!known || (!known.intact && !problem)) chained.set(r.id, { record: r as Chained, intact: !problem });
    }
  }
  problems.push(...missingViews(chained, views, nowSeconds), ...chainProblems(deps.serverKeys, chained, heads, nowSeconds));
  return { checked, problems };
}

/** Unexpired chained records missing from one of their views (a view copy deleted). */
function missingViews(chained: Map<string, { record: Chained; intact: boolean }>, views: Map<string, Set<string>>, nowSeconds: number): AuditProblem[] {
  const out: AuditProblem[] = [];
  for (const { record: r, intact } of chained.values()) {
    if (!intact || r.expires_at <= nowSeconds) continue; // TTL removes the copies one by one
    for (const view of ['tenant', 'agent', 'profile']) {
      const pk = viewKey(view, r);
      if (pk !== undefined && !views.get(r.id)?.has(view)) {
        out.push({ pk, sk: keys.auditSort(r.at, r.id), kind: 'deleted', problem: `its copy in the ${view} view is missing (deleted)` });
      }
    }
  }
  return out;
}

/** Per writer: sequence gaps, broken links, and a head that is missing or does not name the newest record. */
function chainProblems(serverKeys: ServerKeyRing, chained: Map<string, { record: Chained; intact: boolean }>, heads: Record<string, unknown>[], nowSeconds: number): AuditProblem[] {
  const out: AuditProblem[] = [];
  const chains = new Map<string, { tenant: string; writer: string; records: { record: Chained; intact: boolean }[]; head?: Record<string, unknown> }>();
  const chainOf = (tenant: string, writer: string) => {
    const id = `${tenant}/${writer}`;
    const c = chains.get(id) ?? { tenant, writer, records: [] };
    chains.set(id, c);
    return c;
  };
  for (const entry of chained.values()) chainOf(entry.record.tenant, entry.record.writer).records.push(entry);
  for (const item of heads) chainOf(String(item.tenant), String(item.writer)).head = item;

  for (const { tenant, writer, records, head } of chains.values()) {
    const headKey = keys.auditHead(tenant, writer);
    records.sort((a, b) => a.record.seq - b.record.seq);
    let prev: { record: Chained; intact: boolean } | undefined;
    for (const entry of records) {
      const r = entry.record;
      const at = { pk: keys.auditTenant(r.tenant), sk: keys.auditSort(r.at, r.id) };
      const expected = (prev?.record.seq ?? 0) + 1;
      if (prev && r.seq === prev.record.seq) {
        out.push({ ...at, kind: 'edited', problem: `writer ${writer} has two records with sequence number ${r.seq} (one was forged or altered)` });
        continue;
      }
      if (r.seq > expected) {
        // Expired predecessors are TTL's doing, not a deletion.
        if (!(r.prev_expires_at !== undefined && r.prev_expires_at <= nowSeconds)) {
          const range = r.seq - 1 === expected ? `record ${expected}` : `records ${expected}-${r.seq - 1}`;
          out.push({ ...at, kind: 'deleted', problem: `${range} of writer ${writer}, before this one, ${r.seq - expected === 1 ? 'is' : 'are'} missing (deleted)` });
        }
      } else if (prev?.intact && entry.intact && (r.prev_mac !== prev.record.mac || r.prev_expires_at !== prev.record.expires_at)) {
        out.push({ ...at, kind: 'edited', problem: `its link to record ${prev.record.seq} of writer ${writer} does not match (a record was replaced)` });
      }
      prev = entry;
    }
    const newest = records.at(-1);
    if (!head) {
      if (newest && newest.record.expires_at > nowSeconds) {
        out.push({ ...headKey, kind: 'deleted', problem: `the head of writer ${writer} is missing (deleted): its newest records could go unnoticed` });
      }
      continue;
    }
    const parsed = AuditHead.safeParse(head);
    const extra = Object.keys(head).filter((k) => !HEAD_ITEM_ATTRIBUTES.has(k));
    const headProblem =
      extra.length > 0 ? `it has attributes no audit head has: ${extra.join(', ')}` : parsed.success ? auditHeadProblem(serverKeys, parsed.data) : 'it is not a well-formed audit head';
    if (!parsed.success || headProblem) {
      out.push({ ...headKey, kind: 'edited', problem: headProblem as string });
      continue;
    }
    const h = parsed.data;
    if (String(head.pk) !== headKey.pk || String(head.sk) !== headKey.sk) {
      out.push({ pk: String(head.pk), sk: String(head.sk), kind: 'moved', problem: 'its key does not match its tenant and writer (the head was moved)' });
    }
    const newestSeq = newest?.record.seq ?? 0;
    if (h.seq > newestSeq) {
      if (h.expires_at > nowSeconds) {
        const range = h.seq - 1 === newestSeq ? `record ${h.seq}` : `records ${newestSeq + 1}-${h.seq}`;
        out.push({ ...headKey, kind: 'deleted', problem: `the newest ${range} of writer ${writer} (up to ${h.last_id}) ${h.seq - newestSeq === 1 ? 'is' : 'are'} missing (deleted)` });
      }
    } else if (h.seq < newestSeq) {
      out.push({ ...headKey, kind: 'edited', problem: `the head of writer ${writer} names record ${h.seq}, but record ${newestSeq} exists (an older head was put back, or a write failed part-way)` });
    } else if (newest?.intact && (h.last_mac !== newest.record.mac || h.last_id !== newest.record.id)) {
      out.push({ ...headKey, kind: 'edited', problem: `the head of writer ${writer} does not name its newest record (a record was replaced)` });
    }
  }
  return out;
}

/** The partition key a record's copy in `view` must have. */
function viewKey(view: string, r: AuditRecord): string | undefined {
  if (view === 'tenant') return keys.auditTenant(r.tenant);
  if (view === 'agent' && r.agent_id !== undefined) return keys.auditAgent(r.tenant, r.agent_id);
  if (view === 'profile' && r.agent_id !== undefined && r.slot !== undefined) return keys.auditProfile(r.tenant, r.agent_id, r.slot);
  return undefined;
}
