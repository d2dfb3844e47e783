import type { Config } from '../config.ts';
import { isIP } from 'node:net';
import { ValidationError } from '../errors.ts';
import { isBlockedAddress } from './address-policy.ts';

/**
 * Query parameter names that carry credentials (api_key, access_token, client_secret, password,
 * sig, X-Amz-Signature, …). A runner URL is stored in clear and shown to every API key holder.
 */
const CREDENTIAL_PARAM = /(pass|pwd|secret|token|key|auth|sig|credential|session|bearer|cookie|jwt)/i;

/** Where a URL the vault will call on its own (a runner, a tenant webhook) may point. */
export interface OutboundUrlPolicy {
  readonly mode: Config['mode'];
  /** Loopback, private and link-local hosts allowed (local development). */
  readonly allowPrivate: boolean;
  /** If non-empty, the only host names allowed. */
  readonly allowedHosts: readonly string[];
  /** The field named in refusals, e.g. `runner.url`. */
  readonly field: string;
  /** The setting that allows private hosts, named in the refusal. */
  readonly privateSetting: string;
  /** Who must be on a public address, e.g. `runners`. */
  readonly what: string;
}

/**
 * Checks a runner URL when an agent is registered or updated: https in deployed mode, and the
 * host on the allow-list when one is configured. (Where the host resolves is checked again at
 * call time: DNS can change after registration.)
 */
export async function assertRunnerUrlAllowed(config: Config, url: string): Promise<void> {
  assertOutboundUrlAllowed(
    { mode: config.mode, allowPrivate: config.allowPrivateRunners, allowedHosts: config.allowedRunnerHosts, field: 'runner.url', privateSetting: 'VAULT_ALLOW_PRIVATE_RUNNERS', what: 'runners' },
    url,
  );
}

/**
 * The rules of assertRunnerUrlAllowed for any URL the vault calls on its own: https in deployed
 * mode, no credentials in the authority or the query string, no loopback/private literal unless
 * allowed, the host on the allow-list when one is set. 400 naming `policy.field`.
 */
export function assertOutboundUrlAllowed(policy: OutboundUrlPolicy, url: string): void {
  const field = policy.field;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError(`${field} is not a valid URL`);
  }
  if (policy.mode === 'aws' && parsed.protocol !== 'https:') {
    throw new ValidationError(`${field} must use https in deployed mode`);
  }
  if (parsed.username || parsed.password) {
    throw new ValidationError(`${field} must not contain credentials (user:password@) in its authority; the vault signs each call instead`);
  }
  const credentialParams = [...parsed.searchParams.keys()].filter((k) => CREDENTIAL_PARAM.test(k));
  if (credentialParams.length > 0) {
    throw new ValidationError(
      `${field} must not carry credentials in its query string (${credentialParams.map((k) => `"${k}"`).join(', ')}): URLs end up in logs and proxies; verify the vault's X-Agent-Vault-Signature instead`,
    );
  }
  // A trailing dot names the same host ("localhost." is localhost): compare without it.
  const host = parsed.hostname.toLowerCase().replace(/\.+$/, '');
  const literal = host.replace(/^\[|\]$/g, '');
  if (!policy.allowPrivate && (host === 'localhost' || host.endsWith('.localhost') || (isIP(literal) && isBlockedAddress(literal)))) {
    throw new ValidationError(
      `${field} host "${host}" is a loopback, private or link-local address, which is refused: ${policy.what} must be on a public address (${policy.privateSetting}=true allows them for local development)`,
    );
  }
  if (policy.allowedHosts.length > 0 && !policy.allowedHosts.includes(host)) {
    throw new ValidationError(`${field} host "${host}" is not allowed (allowed: ${policy.allowedHosts.join(', ')})`);
  }
}
