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
          router.navigate('/sign-in');
        },
      },
    }, 'Sign out'),
  );
}

const router = new Router(
  pages,
  outlet,
  // Every page but sign-in needs a key; a signed-in user landing on "/" goes to agents.
  (page) => (!page.public && !session.apiKey() ? '/sign-in' : page.path === '/sign-in' && session.apiKey() ? '/agents' : undefined),
  renderNav,
);

setUnauthorizedHandler((message) => {
  session.signOut();
  // A key revoked (or replaced) while this tab held it: say so, with the vault's own words.
  signInReason.text = `Signed out: the vault no longer accepts this API key. ${message}`;
  router.navigate('/sign-in');
});

if (!location.hash || location.hash === '#/' || location.hash === '#') location.hash = session.apiKey() ? '/agents' : '/sign-in';
router.start();
