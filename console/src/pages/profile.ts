import { type Me, profileReadOnly, readOnlyNote, whoami } from '../access.ts';
import { ApiError, api, errorText, path } from '../api.ts';
import { authTypeOf } from '../auth-types.ts';
import { activeBadge, tokenBadge } from '../badges.ts';
import { type Child, details, h, notice, replace, time } from '../dom.ts';
import { type Usage, usesTable } from '../profile-actions.ts';
import { profileSections } from '../profile-extensions.ts';
import { type Page, route } from '../router.ts';
import type { Profile } from '../types.ts';

const list = (v: readonly string[] | undefined, none: string) => (v?.length ? v.join(', ') : none);

/** The metadata of a profile: never a value (the API has none to give). */
function metadata(profile: Profile): HTMLElement {
  const type = authTypeOf(profile);
  const outbound = profile.auth_type !== 'custom' || profile.allowed_hosts !== undefined;
  return details([
    ['Name', profile.name],
    ['Agent', h('a', { href: `#${route('/agents/:agent_id', { agent_id: profile.agent_id })}` }, profile.agent_id)],
    ['Description', profile.description ?? '—'],
    ['Type', type?.label ?? profile.auth_type],
    ['Active', activeBadge(profile)],
    ['Token', h('span', { 'data-testid': 'token-state' }, tokenBadge(profile), ' expires ', time(profile.token_expires_at ?? undefined, 'never'))],
    ['Fields', profile.fields.join(', ') || '—'],
    ['Allowed hosts', outbound ? list(profile.allowed_hosts, 'none: it can be neither proxied nor tested') : undefined],
    ['Allowed path prefixes', outbound ? list(profile.allowed_path_prefixes, 'every path') : undefined],
    ['Allowed methods', outbound ? list(profile.allowed_methods, 'every method') : undefined],
    ['Caller IPs', list(profile.allowed_source_ips, 'any')],
    ['Last test', profile.last_tested_at ? h('span', {}, profile.last_test_ok ? 'passed' : 'failed', ' ', time(profile.last_tested_at)) : undefined],
    ...(type?.details?.(profile) ?? []),
    ['Saves sessions', profile.should_save_session ? 'yes' : 'no'],
    ['Generation', h('span', { 'data-testid': 'generation' }, `${profile.generation}`, h('span', { class: 'hint' }, ' (incremented by every replace and rotate)'))],
    ['Created', time(profile.created_at)],
    ['Updated', time(profile.updated_at)],
    ['Last used', time(profile.last_used_at, 'never')],
    ['Uses', profile.use_count],
  ]);
}

/**
 * The Delete dialog: confirm, and when the vault answers 409 profile_in_use, what it is used by
 * (the summary the 409 carries, and the recent uses with their keys) with Deactivate offered
 * instead and Delete anyway as a second, explicit choice.
 */
function deleteDialog(profile: Profile, me: Me, done: (outcome: 'deleted' | 'deactivated' | 'kept') => void): HTMLDialogElement {
  const url = path`/v1/agents/${profile.agent_id}/auth-profiles/${profile.name}`;
  const msg = notice();
  const body = h('div', {}, h('p', {}, 'Its auth token stops working at once, and runs or proxied calls using it are refused. This cannot be undone.'));
  const buttons = h('div', { class: 'actions' });
  const dialog = h('dialog', { 'data-testid': 'delete-dialog', 'aria-labelledby': 'delete-title', on: { close: () => dialog.remove() } }, h('h2', { id: 'delete-title' }, `Delete profile ${profile.name}?`), body, msg.el, buttons);
  const button = (label: string, testId: string, kind: string, action: () => Promise<void>) => {
    const b = h('button', {
      type: 'button',
      class: kind,
      'data-testid': testId,
      on: {
        click: async () => {
          for (const x of buttons.querySelectorAll('button')) x.disabled = true;
          msg.clear();
          try {
            await action();
          } catch (err) {
            msg.show(errorText(err));
          } finally {
            for (const x of buttons.querySelectorAll('button')) x.disabled = false;
          }
        },
      },
    }, label);
    return b;
  };
  const close = (outcome: 'deleted' | 'deactivated' | 'kept') => {
    dialog.close();
    done(outcome);
  };
  const cancel = button('Cancel', 'delete-cancel', 'secondary', async () => close('kept'));
  const forced = button('Delete anyway', 'delete-anyway', 'danger', async () => {
    await api('DELETE', `${url}?force=true`);
    close('deleted');
  });
  const deactivate = button('Deactivate instead', 'delete-deactivate', '', async () => {
    await api('PATCH', url, { active: false });
    close('deactivated');
  });
  const inUse = async (usage: Partial<Usage>) => {
    const w = usage.uses_last_7_days;
    const recent = await api<Usage>('GET', `${url}/usage`).then((u) => u.uses.slice(0, 10), () => undefined);
    replace(
      body,
      h('p', { class: 'warning' }, 'This profile is in use: a run or a proxied call used it recently, or a run may still be going.'),
      details([
        ['Last used', time(usage.last_used_at, 'never')],
        ['Uses', usage.use_count],
        ['Last 7 days', w ? `${w.run} runs, ${w.proxy} proxied calls, ${w.test} tests` : undefined],
        ['Run in flight until', usage.in_flight_until ? time(usage.in_flight_until) : undefined],
      ]),
      recent ? h('div', {}, h('h3', {}, 'Recent uses'), usesTable(recent, me, 'delete-uses')) : null,
      h('p', {}, 'Deactivating refuses every use and keeps the profile (Activate brings it back). Deleting it now breaks whoever still uses its token.'),
    );
    replace(buttons, deactivate, forced, cancel);
  };
  const remove = button('Delete', 'delete-confirm', 'danger', async () => {
    try {
      await api('DELETE', url);
      close('deleted');
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'profile_in_use')) throw err;
      await inUse((err.details.usage ?? {}) as Partial<Usage>);
    }
  });
  replace(buttons, remove, cancel);
  return dialog;
}

/**
 * A profile's page: metadata, the sections other modules register (profile-extensions.ts:
 * settings, access, usage, Test, Rotate, Activate), and Delete. A key with Read only sees every
 * write control disabled, with the reason.
 */
export const profilePage: Page = {
  path: '/agents/:agent_id/profiles/:name',
  title: (p) => `Profile ${p.name}`,
  async render(ctx) {
    const id = ctx.params.agent_id as string;
    const name = ctx.params.name as string;
    const url = path`/v1/agents/${id}/auth-profiles/${name}`;
    const [profile, me] = await Promise.all([api<Profile>('GET', url), whoami()]);
    const readOnly = profileReadOnly(me, profile);
    const agentHref = `#${route('/agents/:agent_id', { agent_id: id })}`;
    const meta = h('div', { 'data-testid': 'profile-meta' }, metadata(profile));
    const reload = () => ctx.navigate(route(profilePage.path, { agent_id: id, name }));
    const refresh = async (p?: Profile) => {
      const fresh = p ?? (await api<Profile>('GET', url));
      if (ctx.active()) replace(meta, metadata(fresh));
    };

    const sections: Child[] = [];
    for (const s of profileSections()) sections.push(await s.render({ profile, page: ctx, reload, refresh, me, readOnly }));

    const remove = h('button', {
      type: 'button',
      class: 'danger',
      'data-testid': 'delete-profile',
      disabled: readOnly !== undefined,
      title: readOnly,
      on: {
        click: () => {
          const dialog = deleteDialog(profile, me, (outcome) => {
            if (outcome === 'deleted') ctx.navigate(route('/agents/:agent_id', { agent_id: id }));
            else if (outcome === 'deactivated') reload();
          });
          document.body.append(dialog);
          dialog.showModal();
        },
      },
    }, 'Delete profile');
    ctx.onLeave(() => document.querySelector('dialog[open]')?.remove());

    return h(
      'div',
      {},
      h('p', { class: 'crumbs' }, h('a', { href: '#/agents' }, 'Agents'), ' / ', h('a', { href: agentHref }, id), ' / ', name),
      h('h1', {}, `Profile ${name}`),
      h('p', { class: 'hint' }, 'Metadata only: the vault cannot show credential values, it holds them encrypted under the token.'),
      readOnlyNote(readOnly),
      meta,
      ...sections,
      h('div', { class: 'actions' }, h('a', { class: 'button secondary', href: `#${route('/agents/:agent_id/run', { agent_id: id })}` }, 'Start a run'), remove),
    );
  },
};
