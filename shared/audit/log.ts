import type { Config } from '../config.ts';
import type { ServerKeyRing } from '../crypto/server-key.ts';
import { HttpError } from '../errors.ts';
import { keys } from '../keys.ts';
import type { Logger } from '../log.ts';
import { type AuditEventInput, AuditRecord, auditRecordProblem, sealAuditRecord } from './record.ts';
import type { AuditQuery, Store } from '../store/types.ts';
import { AUDIT_ITEM_ATTRIBUTES } from '../store/items.ts';

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
 * Writes one audit record (every view, one round trip) and returns it. Throws
 * AuditUnavailableError if it cannot be written: callers write the record BEFORE handing out
 * credentials or answering a change, so nothing happens that the log does not show.
 */
export async function writeAudit(deps: AuditDeps, event: AuditEventInput): Promise<AuditRecord> {
  const record = sealAuditRecord(deps.serverKeys, event, deps.now(), deps.config.auditRetentionSeconds);
  try {
    await deps.store.audit.write(record);
  } catch (err) {
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

export interface AuditVerification {
  readonly checked: number;
  readonly problems: readonly { pk: string; sk: string; problem: string }[];
}

/**
 * Checks every stored audit item (all views): its MAC under the server key ring, and that it
 * carries no attribute outside the record schema. An edited, moved or forged record is reported.
 */
export async function verifyAuditLog(deps: Pick<AuditDeps, 'store' | 'serverKeys'>, tenant?: string): Promise<AuditVerification> {
  let checked = 0;
  const problems: { pk: string; sk: string; problem: string }[] = [];
  for await (const item of deps.store.audit.scanAll(tenant)) {
    checked++;
    const pk = String(item.pk);
    const sk = String(item.sk);
    const extra = Object.keys(item).filter((k) => !AUDIT_ITEM_ATTRIBUTES.has(k));
    if (extra.length > 0) {
      problems.push({ pk, sk, problem: `it has attributes no audit record has: ${extra.join(', ')}` });
      continue;
    }
    const parsed = AuditRecord.safeParse(item);
    if (!parsed.success) {
      problems.push({ pk, sk, problem: 'it is not a well-formed audit record' });
      continue;
    }
    const problem = auditRecordProblem(deps.serverKeys, parsed.data);
    if (problem) problems.push({ pk, sk, problem });
    else if (sk !== keys.auditSort(parsed.data.at, parsed.data.id) || pk !== viewKey(String(item.view), parsed.data)) {
      problems.push({ pk, sk, problem: 'its key does not match its tenant, agent, profile, time and id (the record was moved)' });
    }
  }
  return { checked, problems };
}

/** The partition key a record's copy in `view` must have. */
function viewKey(view: string, r: AuditRecord): string | undefined {
  if (view === 'tenant') return keys.auditTenant(r.tenant);
  if (view === 'agent' && r.agent_id !== undefined) return keys.auditAgent(r.tenant, r.agent_id);
  if (view === 'profile' && r.agent_id !== undefined && r.slot !== undefined) return keys.auditProfile(r.tenant, r.agent_id, r.slot);
  return undefined;
}
