import { setUnauthorizedHandler } from './api.ts';
import { h, replace } from './dom.ts';
import { tokenHandoff } from './handoff.ts';
import { pages } from './pages/index.ts';
import { signInReason } from './pages/sign-in.ts';
import { type Page, Router } from './router.ts';
import { session } from './session.ts';

const outlet = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;

function renderNav(current: Page | undefined): void {
  if (!session.apiKey()) {
    replace(nav);
    return;
  }
  const links = pages
    .filter((p) => p.nav)
    .sort((a, b) => (a.nav?.order ?? 0) - (b.nav?.order ?? 0))
    .map((p) => h('a', { href: `#${p.path}`, 'aria-current': p === current ? 'page' : undefined }, p.nav?.label ?? ''));
  replace(
    nav,
    ...links,
    h('button', {
      type: 'button',
      class: 'link',
      'data-testid': 'sign-out',
      on: {
        click: () => {
          session.signOut();
          tokenHandoff.clear();
          signInReason.next = undefined;
          router.navigate('/sign-in');
        },
      },
    }, 'Sign out'),
  );
}

/** Whether the next sign-in page is the guard's (or a 401's) redirect, keeping `signInReason.next`. */
let redirected = false;

const router = new Router(
  pages,
  outlet,
  // Every page but sign-in needs a key (the address asked for is kept, in memory, for after
  // signing in); a signed-in user landing on "/" goes to agents.
  (page) => {
    if (!page.public && !session.apiKey()) {
      signInReason.next = location.hash.replace(/^#/, '');
      redirected = true;
      return '/sign-in';
    }
    // Sign-in opened by hand (not by the redirect above) starts afresh.
    if (page.path === '/sign-in' && !redirected) signInReason.next = undefined;
    redirected = false;
    return page.path === '/sign-in' && session.apiKey() ? '/agents' : undefined;
  },
  renderNav,
);

setUnauthorizedHandler((message) => {
  session.signOut();
  // A key revoked (or replaced) while this tab held it: say so, with the vault's own words.
  signInReason.text = `Signed out: the vault no longer accepts this API key. ${message}`;
  signInReason.next = location.hash.replace(/^#/, '');
  redirected = true;
  router.navigate('/sign-in');
});

if (!location.hash || location.hash === '#/' || location.hash === '#') location.hash = session.apiKey() ? '/agents' : '/sign-in';
router.start();
