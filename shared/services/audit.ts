import { queryAudit } from '../audit/log.ts';
import type { AuditRecord } from '../audit/record.ts';
import { slotFor } from '../credentials/profile-keys.ts';
import type { Caller, Deps } from '../deps.ts';
import type { AuditQuery } from '../schemas/audit.ts';

/** A record as GET /v1/audit shows it (its MAC and storage fields stay inside). */
function toEntry(r: AuditRecord) {
  return {
    id: r.id,
    at: r.at,
    action: r.action,
    key_id: r.key_id,
    agent_id: r.agent_id,
    profile: r.profile,
    generation: r.generation,
    status: r.status,
    result: r.result,
    source_ip: r.source_ip,
    request_id: r.request_id,
    session_id: r.session_id,
  };
}

/**
 * GET /v1/audit: one Query of the narrowest view the filters name (profile → agent → tenant),
 * newest first, paginated by an opaque cursor bound to that view. Every key of a tenant is an
 * admin today; per-profile read permission plugs in here with principals.
 */
export async function listAudit(deps: Deps, caller: Caller, q: AuditQuery) {
  const slot = q.profile !== undefined && q.agent_id !== undefined ? slotFor(caller.tenant, q.agent_id, q.profile).toString('hex') : undefined;
  const page = await queryAudit(deps, {
    tenant: caller.tenant,
    agentId: q.agent_id,
    slot,
    actions: q.action ? [q.action] : undefined,
    // Sort keys hold UTC ISO times; any offset the caller used is normalised to that form.
    since: q.since !== undefined ? new Date(q.since).toISOString() : undefined,
    limit: q.limit,
    cursor: q.cursor,
  });
  return { records: page.records.map(toEntry), next_cursor: page.next };
}
