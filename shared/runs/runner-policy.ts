import type { Config } from '../config.ts';
import { isIP } from 'node:net';
import { ValidationError } from '../errors.ts';
import { isBlockedAddress } from './address-policy.ts';

/**
 * Checks a runner URL when an agent is registered or updated: https in deployed mode, and the
 * host on the allow-list when one is configured. (Where the host resolves is checked again at
 * call time: DNS can change after registration.)
 */
export async function assertRunnerUrlAllowed(config: Config, url: string): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError('runner.url is not a valid URL');
  }
  if (config.mode === 'aws' && parsed.protocol !== 'https:') {
    throw new ValidationError('runner.url must use https in deployed mode');
  }
  if (parsed.username || parsed.password) {
    throw new ValidationError('runner.url must not contain credentials; the vault signs each call instead');
  }
  const host = parsed.hostname.toLowerCase();
  const literal = host.replace(/^\[|\]$/g, '');
  if (!config.allowPrivateRunners && (host === 'localhost' || host.endsWith('.localhost') || (isIP(literal) && isBlockedAddress(literal)))) {
    throw new ValidationError(
      `runner.url host "${host}" is a loopback, private or link-local address, which is refused: runners must be on a public address (VAULT_ALLOW_PRIVATE_RUNNERS=true allows them for local development)`,
    );
  }
  if (config.allowedRunnerHosts.length > 0 && !config.allowedRunnerHosts.includes(host)) {
    throw new ValidationError(`runner.url host "${host}" is not allowed (allowed: ${config.allowedRunnerHosts.join(', ')})`);
  }
}
