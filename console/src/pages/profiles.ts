import { h } from '../dom.ts';
import { profileList } from '../profile-list.ts';
import type { Page } from '../router.ts';

/** Every profile of the tenant the key may read (`GET /v1/auth-profiles`), searchable and filterable, with its agent. */
export const profilesPage: Page = {
  path: '/profiles',
  title: 'Profiles',
  nav: { label: 'Profiles', order: 15 },
  async render() {
    const list = profileList({ empty: 'No profiles yet: create one on an agent\'s page.' });
    await list.load();
    return h('div', {}, h('h1', {}, 'Profiles'), h('p', { class: 'hint' }, 'Every auth profile your key may see, across agents, by name. Metadata only.'), list.el);
  },
};
