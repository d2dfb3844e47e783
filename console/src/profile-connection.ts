import { disableAll } from './access.ts';
import { api, errorText } from './api.ts';
import { badge, copyButton, field, h, notice, replace, time } from './dom.ts';
import { confirmButton } from './pages/agent.ts';
import { profileUrl } from './profile-actions.ts';
import { registerProfileSection } from './profile-extensions.ts';

/**
 * Delegated OAuth (docs/api.md "Delegated OAuth"): an oauth2_authorization_code profile's connect
 * link, shown after Create and by Reconnect, and the Connection section of its page — Reconnect
 * (`POST …/connect`, a new single-use link) and Disconnect (`POST …/disconnect`, revoking the grant
 * at the provider). Both need the profile's auth token, sent in the body once, as Test and Rotate.
 */

export interface ConnectLink {
  readonly connect_url: string;
  readonly connect_expires_at: string;
}
interface Disconnected {
  readonly revocation: 'confirmed' | 'failed' | 'not_configured' | 'not_connected';
  readonly revocation_error?: string;
}

/** The link to hand to the end user's browser, with Copy and its expiry. It needs no API key: it is shown, never stored. */
export const connectLink = (link: ConnectLink) =>
  h(
    'div',
    { class: 'connect-link', 'data-testid': 'connect-link' },
    h('h3', {}, 'Connect link'),
    h(
      'p',
      { class: 'hint' },
      'Send it to the end user: opened in their browser, it takes them to the provider to connect their account. Single use, valid until ',
      h('span', { 'data-testid': 'connect-expires' }, time(link.connect_expires_at)),
      '.',
    ),
    h('code', { class: 'link', 'data-testid': 'connect-url' }, link.connect_url),
    h(
      'div',
      { class: 'actions' },
      copyButton(() => link.connect_url, 'Copy link'),
    ),
  );

const REVOCATION: Readonly<Record<Disconnected['revocation'], readonly [string, 'ok' | 'bad' | 'muted', string]>> = {
  confirmed: ['revocation confirmed', 'ok', 'The provider confirmed the revocation: the grant is gone there too.'],
  failed: ['revocation failed', 'bad', 'The provider did not confirm the revocation: revoke the grant at the provider.'],
  not_configured: ['not revoked', 'muted', 'The profile has no revocation URL: the grant stays at the provider; revoke it there.'],
  not_connected: ['nothing to revoke', 'muted', 'No account was connected.'],
};

registerProfileSection({
  id: 'connection',
  order: 25,
  render({ profile, refresh, readOnly }) {
    if (profile.auth_type !== 'oauth2_authorization_code') return null;
    const msg = notice();
    const out = h('div', {});
    const token = h('input', {
      type: 'password',
      autocomplete: 'off',
      required: true,
      'data-testid': 'connection-token',
      placeholder: 'avt_…',
    });
    /** Runs `action` with the token (asked for first), then reads the profile again: its state badge. */
    const withToken = async (action: (authToken: string) => Promise<HTMLElement>) => {
      msg.clear();
      replace(out);
      if (!token.reportValidity()) return;
      const current = token.value;
      token.value = '';
      try {
        replace(out, await action(current));
        await refresh();
      } catch (err) {
        msg.show(errorText(err));
      }
    };
    const reconnect = h(
      'button',
      {
        type: 'button',
        'data-testid': 'reconnect',
        on: {
          click: () =>
            withToken(async (t) => connectLink(await api<ConnectLink>('POST', `${profileUrl(profile)}/connect`, { auth_token: t }))),
        },
      },
      'Reconnect',
    );
    const disconnect = confirmButton(
      'Disconnect',
      'Really disconnect? Click again',
      () =>
        withToken(async (t) => {
          const r = await api<Disconnected>('POST', `${profileUrl(profile)}/disconnect`, { auth_token: t });
          const [label, kind, text] = REVOCATION[r.revocation];
          return h(
            'p',
            { 'data-testid': 'revocation' },
            badge(label, kind),
            ` Disconnected: the vault removed the tokens. ${text}`,
            r.revocation_error ? ` (${r.revocation_error})` : '',
          );
        }),
      'disconnect',
    );
    const section = h(
      'section',
      { class: 'card', 'data-testid': 'connection' },
      h('h2', {}, 'Connection'),
      h(
        'p',
        { class: 'hint' },
        'Reconnect makes a new connect link for the end user (after needs_reauth, or to connect another account). Disconnect revokes the grant at the provider and removes the tokens; uses are refused until the end user connects again.',
      ),
      field('Current auth token', token, 'Not kept: sent once in the request body.'),
      h('div', { class: 'actions' }, reconnect, disconnect),
      msg.el,
      out,
    );
    disableAll(readOnly, section);
    return section;
  },
});
