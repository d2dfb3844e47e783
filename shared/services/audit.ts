import { queryAudit } from '../audit/log.ts';
import type { AuditRecord } from '../audit/record.ts';
import { loadNamedProfile } from '../credentials/profile-names.ts';
import type { Caller, Deps } from '../deps.ts';
import { ForbiddenError } from '../errors.ts';
import type { AuditQuery } from '../schemas/audit.ts';
import { loadProfileTarget } from './targets.ts';

/** A record as GET /v1/audit shows it (its MAC and storage fields stay inside). */
function toEntry(r: AuditRecord) {
  return {
    id: r.id,
    at: r.at,
    action: r.action,
    key_id: r.key_id,
    agent_id: r.agent_id,
    profile: r.profile,
    new_name: r.new_name,
    generation: r.generation,
    status: r.status,
    result: r.result,
    source_ip: r.source_ip,
    request_id: r.request_id,
    session_id: r.session_id,
    principal: r.principal,
    permission: r.permission,
    role: r.role,
  };
}

/**
 * Who may read which view: an admin key every view of its tenant; a member only the view of one
 * profile it may read (`?agent_id&profile`; without read access the unknown-profile 404), and
 * 403 forbidden for the tenant and agent views, which span profiles it may not see.
 */
async function assertMayReadAudit(deps: Deps, caller: Caller, q: AuditQuery): Promise<{ since?: string; slot?: string }> {
  if (caller.role === 'admin') {
    if (q.agent_id === undefined || q.profile === undefined) return {};
    // The profile's view is keyed by the slot it lives at, which a rename keeps: a renamed
    // profile's history is found by its new name. A name no profile carries (one deleted) is
    // looked up at its own slot, where its history stays.
    const { ref } = await loadNamedProfile(deps.store, caller.tenant, q.agent_id, q.profile);
    return { slot: ref.slot };
  }
  if (q.agent_id === undefined || q.profile === undefined) {
    throw new ForbiddenError(
      `Reading the audit log of a whole tenant or agent needs an admin API key; this key (${caller.apiKeyId}) is a member: name a profile it may read with ?agent_id=…&profile=…`,
      'forbidden',
    );
  }
  // Read on the profile as it is now covers its own history only: the view is keyed by the name's
  // slot, so records of an earlier profile of the same name (another owner's) are left out.
  const { profile } = await loadProfileTarget(
    deps,
    caller,
    { agentId: q.agent_id, name: q.profile },
    'read',
    'Reading the audit log of this auth profile',
  );
  return { since: profile.created_at, slot: profile.slot };
}

/**
 * GET /v1/audit: one Query of the narrowest view the filters name (profile → agent → tenant),
 * newest first, paginated by an opaque cursor bound to that view. Admin keys read every view; a
 * member key only a profile's it may read (assertMayReadAudit).
 */
export async function listAudit(deps: Deps, caller: Caller, q: AuditQuery) {
  const { since: from, slot } = await assertMayReadAudit(deps, caller, q);
  const asked = q.since !== undefined ? new Date(q.since).toISOString() : undefined;
  const page = await queryAudit(deps, {
    tenant: caller.tenant,
    agentId: q.agent_id,
    slot,
    actions: q.action ? [q.action] : undefined,
    // Sort keys hold UTC ISO times; any offset the caller used is normalised to that form.
    since: from !== undefined && (asked === undefined || asked < from) ? from : asked,
    limit: q.limit,
    cursor: q.cursor,
  });
  return { records: page.records.map(toEntry), next_cursor: page.next };
}
