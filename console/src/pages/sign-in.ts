import { api } from '../api.ts';
import { field, h, notice } from '../dom.ts';
import type { Page } from '../router.ts';
import { API_KEY_PATTERN, session } from '../session.ts';

/**
 * Set by main.ts: the reason shown on the sign-in page after an automatic sign-out, and the
 * address the user was sent away from (a deep link opened signed out), to go back to after.
 */
export const signInReason: { text: string; next?: string | undefined } = { text: '' };

/** Sign-in with a tenant API key: checked against the vault, then kept in sessionStorage only. */
export const signInPage: Page = {
  path: '/sign-in',
  title: 'Sign in',
  public: true,
  render(ctx) {
    const msg = notice();
    if (signInReason.text) msg.show(signInReason.text);
    const key = h('input', { type: 'password', name: 'api_key', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'avk_…', 'data-testid': 'api-key' });
    const submit = h('button', { type: 'submit' }, 'Sign in');
    // method=post: should the script ever not run, a native submit must not put the key in a URL.
    const form = h(
      'form',
      {
        method: 'post',
        class: 'card narrow',
        on: {
          submit: async (e) => {
            e.preventDefault();
            msg.clear();
            const value = key.value.trim();
            if (!API_KEY_PATTERN.test(value)) {
              msg.show('That is not an API key: it starts with avk_ followed by 43 letters, digits, "-" or "_".');
              return;
            }
            submit.disabled = true;
            try {
              await api('GET', '/v1/agents?limit=1', undefined, value);
              session.signIn(value);
              const next = signInReason.next;
              signInReason.text = '';
              signInReason.next = undefined;
              key.value = '';
              ctx.navigate(next && next !== '/sign-in' && next.startsWith('/') ? next : '/agents');
            } catch (err) {
              msg.show(err instanceof Error ? err.message : String(err));
            } finally {
              submit.disabled = false;
            }
          },
        },
      },
      h('h1', {}, 'Sign in'),
      h('p', {}, 'Use a tenant API key. It stays in this tab (sessionStorage) and is sent only in the Authorization header; closing the tab forgets it.'),
      field('API key', key),
      msg.el,
      submit,
    );
    return form;
  },
};
