import { authLabel } from './auth-types.ts';
import { activeBadge, connectionBadge, tokenBadge } from './badges.ts';
import { type Column, h, time } from './dom.ts';
import { route } from './router.ts';
import type { Profile } from './types.ts';

const has = (key: keyof Profile) => (rows: readonly Profile[]) => rows.some((p) => p[key] !== undefined);

/**
 * Columns of an agent's profile table. Name, Last used and Uses exist today; Type, Visibility,
 * Token state and Active appear as soon as the API returns `auth_type`, `visibility`,
 * `token_expires_at` and `active` (typed profiles and lifecycle).
 */
export const profileColumns: Column<Profile>[] = [
  { header: 'Name', cell: (p) => h('a', { href: `#${route('/agents/:agent_id/profiles/:name', { agent_id: p.agent_id, name: p.name })}`, 'data-testid': 'profile-link' }, p.name) },
  { header: 'Type', cell: (p) => authLabel(p.auth_type), present: has('auth_type') },
  { header: 'Visibility', cell: (p) => p.visibility ?? '—', present: has('visibility') },
  { header: 'Fields', cell: (p) => p.fields.join(', ') },
  { header: 'Last used', cell: (p) => time(p.last_used_at, 'never') },
  { header: 'Uses', cell: (p) => p.use_count },
  { header: 'Token state', cell: (p) => tokenBadge(p), present: (rows) => has('token_state')(rows) || has('token_expires_at')(rows) },
  { header: 'Active', cell: (p) => activeBadge(p), present: has('active') },
  { header: 'Connection', cell: (p) => h('span', { 'data-testid': 'connection-cell' }, connectionBadge(p) ?? '—', p.end_user_id ? ` ${p.end_user_id}` : ''), present: has('connection_state') },
  { header: 'Updated', cell: (p) => time(p.updated_at) },
];
