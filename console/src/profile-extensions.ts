import type { Me } from './access.ts';
import type { Child } from './dom.ts';
import type { PageContext } from './router.ts';
import type { Profile } from './types.ts';

/** What a section of the profile page gets: the profile, a way to reload the page, and navigation. */
export interface ProfileSectionContext {
  readonly profile: Profile;
  readonly page: PageContext;
  /** Re-renders the profile page (after an action changed the profile). */
  readonly reload: () => void;
  /** Re-reads the profile (or takes `p`, a write's answer) and redraws its metadata, leaving the sections as they are. */
  readonly refresh: (p?: Profile) => Promise<void>;
  /** Who the console is signed in as. */
  readonly me: Me;
  /** Why this key may not change the profile (its write controls are disabled with it); undefined when it may. */
  readonly readOnly: string | undefined;
}

/**
 * A section of the profile page below its metadata: usage, Test, Rotate, Activate/Deactivate,
 * Share… each one a module that registers itself here once its API exists. Sections render in
 * `order`; returning null leaves the section out (e.g. an action a profile's type does not have).
 */
export interface ProfileSection {
  readonly id: string;
  readonly order: number;
  render(ctx: ProfileSectionContext): Child | Promise<Child>;
}

const sections: ProfileSection[] = [];

export function registerProfileSection(section: ProfileSection): void {
  if (sections.some((s) => s.id === section.id)) throw new Error(`profile section ${section.id} is registered twice`);
  sections.push(section);
  sections.sort((a, b) => a.order - b.order);
}

export const profileSections = (): readonly ProfileSection[] => sections;
