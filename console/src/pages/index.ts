import '../profile-actions.ts'; // registers the usage, Test, Rotate and Activate sections
import '../profile-connection.ts'; // registers the Connection section: Reconnect, Disconnect (delegated OAuth)
import '../profile-share.ts'; // registers the Access section: owner, visibility, grants, Share
import type { Page } from '../router.ts';
import { apiKeysPage } from './api-keys.ts';
import { auditPage } from './audit.ts';
import { agentPage } from './agent.ts';
import { agentsPage } from './agents.ts';
import { newProfilePage } from './profile-new.ts';
import { profilePage } from './profile.ts';
import { profilesPage } from './profiles.ts';
import { agentRunPage, runPage, runsPage } from './runs.ts';
import { signInPage } from './sign-in.ts';

/**
 * Every page of the console. To add one: a module under pages/ exporting a `Page` (path, title,
 * optional `nav`, render), listed here. More specific paths first: the first match wins.
 */
export const pages: readonly Page[] = [signInPage, agentsPage, newProfilePage, agentRunPage, profilePage, agentPage, profilesPage, runsPage, runPage, auditPage, apiKeysPage];
