import { ApiError, api, path } from '../api.ts';
import { authTypeOf } from '../auth-types.ts';
import { activeBadge, tokenBadge } from '../badges.ts';
import { type Child, details, h, notice, replace, time } from '../dom.ts';
import { profileSections } from '../profile-extensions.ts';
import { type Page, route } from '../router.ts';
import type { Profile } from '../types.ts';
import { confirmButton } from './agent.ts';

/**
 * A profile's page: metadata (never a value: the API has none to give), the sections other
 * modules register (profile-extensions.ts), and Delete, which kills the token at once.
 */
export const profilePage: Page = {
  path: '/agents/:agent_id/profiles/:name',
  title: (p) => `Profile ${p.name}`,
  async render(ctx) {
    const id = ctx.params.agent_id as string;
    const name = ctx.params.name as string;
    const profile = await api<Profile>('GET', path`/v1/agents/${id}/auth-profiles/${name}`);
    const type = authTypeOf(profile);
    const agentHref = `#${route('/agents/:agent_id', { agent_id: id })}`;

    const meta: (readonly [string, Child])[] = [
      ['Name', profile.name],
      ['Agent', h('a', { href: agentHref }, profile.agent_id)],
      ['Type', profile.auth_type !== undefined ? (type?.label ?? profile.auth_type) : undefined],
      ['Active', profile.active !== undefined ? activeBadge(profile) : undefined],
      ['Token', profile.token_state !== undefined || profile.token_expires_at !== undefined ? h('span', {}, tokenBadge(profile), ' ', time(profile.token_expires_at ?? undefined, 'no expiry')) : undefined],
      ['Fields', profile.fields.join(', ') || '—'],
      ['Allowed hosts', profile.allowed_hosts?.join(', ')],
      ['Allowed path prefixes', profile.allowed_path_prefixes?.join(', ')],
      ['Allowed methods', profile.allowed_methods?.join(', ')],
      ['Last test', profile.last_tested_at ? h('span', {}, profile.last_test_ok ? 'passed' : 'failed', ' ', time(profile.last_tested_at)) : undefined],
      ...(type?.details?.(profile) ?? []),
      ['Saves sessions', profile.should_save_session ? 'yes' : 'no'],
      ['Generation', `${profile.generation} (incremented by every replace)`],
      ['Record version', profile.record_version],
      ['Created', time(profile.created_at)],
      ['Updated', time(profile.updated_at)],
      ['Last used', time(profile.last_used_at, 'never')],
      ['Uses', profile.use_count],
    ];

    const sections: Child[] = [];
    for (const s of profileSections()) {
      sections.push(await s.render({ profile, page: ctx, reload: () => ctx.navigate(route(profilePage.path, { agent_id: id, name })) }));
    }

    const msg = notice();
    const forceSlot = h('div', {});
    const deleted = () => ctx.navigate(route('/agents/:agent_id', { agent_id: id }));
    // A profile used recently (or with a run in flight) answers 409 profile_in_use: say so and
    // offer the forced delete as a second, explicit step.
    const force = confirmButton(
      'Delete anyway',
      'Click again: it is in use, and its token stops working at once',
      async () => {
        msg.clear();
        try {
          await api('DELETE', `${path`/v1/agents/${id}/auth-profiles/${name}`}?force=true`);
          deleted();
        } catch (err) {
          msg.show(err instanceof Error ? err.message : String(err));
        }
      },
      'delete-profile-force',
    );
    const remove = confirmButton(
      'Delete profile',
      'Click again: the token stops working at once',
      async () => {
        msg.clear();
        try {
          await api('DELETE', path`/v1/agents/${id}/auth-profiles/${name}`);
          deleted();
        } catch (err) {
          msg.show(err instanceof Error ? err.message : String(err));
          if (err instanceof ApiError && err.code === 'profile_in_use') replace(forceSlot, force);
        }
      },
      'delete-profile',
    );

    return h(
      'div',
      {},
      h('p', { class: 'crumbs' }, h('a', { href: '#/agents' }, 'Agents'), ' / ', h('a', { href: agentHref }, id), ' / ', name),
      h('h1', {}, `Profile ${name}`),
      h('p', { class: 'hint' }, 'Metadata only: the vault cannot show credential values, it holds them encrypted under the token.'),
      details(meta),
      ...sections,
      h('div', { class: 'actions' }, h('a', { class: 'button secondary', href: `#${route('/agents/:agent_id/run', { agent_id: id })}` }, 'Start a run'), remove),
      msg.el,
      forceSlot,
    );
  },
};
