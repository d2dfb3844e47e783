import type { Config } from '../config.ts';
import { isIP } from 'node:net';
import { ValidationError } from '../errors.ts';
import { isBlockedAddress } from './address-policy.ts';

/**
 * Query parameter names that carry credentials (api_key, access_token, client_secret, password,
 * sig, X-Amz-Signature, …). A runner URL is stored in clear and shown to every API key holder.
 */
const CREDENTIAL_PARAM = /(pass|pwd|secret|token|key|auth|sig|credential|session|bearer|cookie|jwt)/i;

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
    throw new ValidationError('runner.url must not contain credentials (user:password@) in its authority; the vault signs each call instead');
  }
  const credentialParams = [...parsed.searchParams.keys()].filter((k) => CREDENTIAL_PARAM.test(k));
  if (credentialParams.length > 0) {
    throw new ValidationError(
      `runner.url must not carry credentials in its query string (${credentialParams.map((k) => `"${k}"`).join(', ')}): URLs end up in logs and proxies; verify the vault's X-Agent-Vault-Signature instead`,
    );
  }
  // A trailing dot names the same host ("localhost." is localhost): compare without it.
  const host = parsed.hostname.toLowerCase().replace(/\.+$/, '');
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
