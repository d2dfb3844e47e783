import { assertMayChangeAgent } from '../credentials/access.ts';
import type { Caller, Deps } from '../deps.ts';
import { assertAdmin } from '../services/api-keys.ts';
import { type AgentTarget, type ProfileTarget, loadProfileTarget, requireAgent } from '../services/targets.ts';
import type { Permission } from './routes.ts';

/** What the permission check read and let through, handed to the route's handler. */
export type Target = AgentTarget | ProfileTarget | undefined;

/**
 * The one authority check of a request: the route's permission (shared/http/routes.ts) against
 * its caller, before the handler runs. Reads only what the permission names (the path's agent or
 * profile, once) and returns it for the service, which neither reads nor checks it again.
 * `credential` routes are checked by the credential gate's first stage instead
 * (shared/credentials/gate.ts: access → caller IP → token), the only code that opens a credential.
 */
export async function authorize(deps: Deps, caller: Caller, permission: Permission, params: Readonly<Record<string, string>>): Promise<Target> {
  switch (permission.kind) {
    case 'public':
    case 'key':
    case 'credential':
      return undefined;
    case 'admin':
      assertAdmin(caller, permission.action);
      return undefined;
    case 'agent_owner': {
      const agentId = params.agent_id as string;
      // An admin may change any agent: nothing to read to decide (the service reads what it needs).
      if (caller.role === 'admin') return { agentId };
      const agent = await requireAgent(deps, caller.tenant, agentId);
      assertMayChangeAgent(caller, agent, permission.action);
      return { agentId, agent };
    }
    case 'profile':
      return loadProfileTarget(deps, caller, { agentId: params.agent_id as string, name: params.name as string }, permission.need, permission.action, permission.load);
  }
}
