import { performance } from 'node:perf_hooks';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { auditFailure, withFailureRecord } from '../audit/log.ts';
import { type CredentialRef, type OpenedForUse, openForUse } from '../credentials/gate.ts';
import { accessTokenFor } from '../credentials/oauth2/access-token.ts';
import { type TokenEndpointConfig, fetchAccessToken, tokenConnectionScope } from '../credentials/oauth2/token-endpoint.ts';
import { parseOutboundUrl } from '../credentials/outbound-policy.ts';
import { profileEvent } from '../credentials/policy.ts';
import { type OutboundRequest, deploymentOf } from '../credentials/types/index.ts';
import type { Caller, Deps } from '../deps.ts';
import { BadGatewayError, ForbiddenError, GatewayTimeoutError, ValidationError } from '../errors.ts';
import { type OutboundFailure, type OutboundResponse, sendOutbound } from '../outbound/http-client.ts';
import { lazy } from '../outbound/lazy.ts';
import { Redactor } from '../outbound/redact.ts';
import type { GrantProxyBody, ProxyBody, ProxyResponse, TestProfileBody, TestProfileResponse } from '../schemas/proxy.ts';
import { profileRefOf } from '../store/profile-ref.ts';
import { latencyMetric, METRIC } from '../metrics.ts';

/**
 * The vault as a credential-injecting proxy (POST /v1/proxy) and the profile test
 * (POST …/auth-profiles/{name}/test). Both go through the gate (verify → policy, including the
 * profile's outbound policy → decrypt → record use), inject the credentials by type, send the
 * request through the outbound client (pinned DNS + SSRF guard, no redirects, timeout, size cap),
 * and redact the profile's secret values from whatever comes back.
 */

/** Largest upstream answer the proxy relays (after decompression). */
export const MAX_PROXY_RESPONSE_BYTES = 1024 * 1024;

/** Request headers the caller may not set: the HTTP client owns them (and accept-encoding, see below). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  'content-length',
  'expect',
  'accept-encoding',
]);
/**
 * Method-override headers: an upstream that honours them would run another method than the one
 * the profile's allowed_methods checked (a POST-only profile could DELETE), so they never go out.
 */
const METHOD_OVERRIDE = new Set(['x-http-method-override', 'x-http-method', 'x-method-override']);
/** Response headers not relayed: hop-by-hop, and the ones that described the body before we decoded and redacted it. */
const RESPONSE_DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'content-encoding',
]);

/** How the vault reaches token endpoints: the proxy's own outbound settings. */
const tokenFetchOptions = (deps: Deps) => ({
  timeoutMs: deps.config.proxyTimeoutMs,
  allowPrivate: deps.config.allowPrivateUpstreams,
  ...deploymentOf(deps.config),
});

/** The URL to call: parsed (absolute http(s), no userinfo; https when deployed), with `query` appended. */
function outboundUrl(deps: Deps, raw: string, query: ProxyBody['query']): URL {
  const url = parseOutboundUrl(raw, deps.config.mode === 'aws');
  for (const [k, v] of Object.entries(query ?? {})) for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, one);
  return url;
}

/** The request before injection: the caller's headers minus hop-by-hop ones, the body as text. */
function callerRequest(method: string, url: URL, headers: Readonly<Record<string, string>> = {}, body?: unknown): OutboundRequest {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers))
    if (!HOP_BY_HOP.has(k.toLowerCase()) && !METHOD_OVERRIDE.has(k.toLowerCase())) out[k.toLowerCase()] = v;
  // The answer must be redactable: ask for it uncompressed (a compressed one is decoded anyway).
  out['accept-encoding'] = 'identity';
  if (body === undefined || body === null) return { method, url, headers: out };
  if (method === 'GET' || method === 'HEAD')
    throw new ValidationError(`a ${method} request carries no body; omit body or use POST/PUT/PATCH`);
  if (typeof body === 'string') return { method, url, headers: out, body };
  out['content-type'] ??= 'application/json';
  return { method, url, headers: out, body: JSON.stringify(body) };
}

/** Injects the profile's credential; returns the request and every value to redact from the answer. */
async function injectCredential(
  deps: Deps,
  use: OpenedForUse,
  request: OutboundRequest,
): Promise<{ request: OutboundRequest; secrets: string[] }> {
  const secret = use.type.injection === 'access_token' ? await accessTokenFor(deps, use, tokenFetchOptions(deps)) : use.secret;
  const result = use.type.inject(request, secret, use.config);
  if (!result.injectable) throw new ValidationError(result.reason, 'not_injectable');
  const secrets = use.type.secretValues(use.secret, use.config);
  if (secret !== use.secret) secrets.push(...use.type.secretValues(secret, use.config));
  return { request: result.request, secrets };
}

/** Sends through the outbound client; refusals and faults become clear HTTP errors. */
async function send(deps: Deps, use: OpenedForUse, request: OutboundRequest, onSent?: () => void): Promise<OutboundResponse> {
  const headers: Record<string, string | number> = { ...request.headers };
  if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
  let result: OutboundResponse | OutboundFailure;
  const started = performance.now();
  try {
    result = await sendOutbound({
      url: request.url,
      method: request.method,
      headers,
      body: request.body,
      timeoutMs: deps.config.proxyTimeoutMs,
      maxResponseBytes: MAX_PROXY_RESPONSE_BYTES,
      allowPrivate: deps.config.allowPrivateUpstreams,
      // A kept-alive connection carries the requests of this profile only (shared/outbound/http-client.ts).
      connectionScope: connectionScopeOf(use),
      onSent,
    });
  } catch (err) {
    // Node refuses a header it cannot send before any byte goes out (a value stored before the
    // types checked it): the request's fault, not ours — and the message names no value.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_HTTP_TOKEN') {
      throw new ValidationError(
        "a header of this request (the caller's or the profile's) holds characters HTTP cannot carry; use visible ASCII or Latin-1 text",
        'invalid_header',
      );
    }
    throw err;
  }
  latencyMetric(METRIC.upstreamLatency, performance.now() - started);
  if (result.ok) return result;
  throw outboundError(request.url, result);
}

/** The profile (this incarnation of it) whose credentials a proxied request carries: the one pool of connections it may share. */
const connectionScopeOf = (use: OpenedForUse) => {
  const { tenant, agent_id, slot, created_at } = use.profile.item;
  return JSON.stringify(['profile', tenant, agent_id, slot, created_at]);
};

function outboundError(url: URL, failure: OutboundFailure): Error {
  switch (failure.reason) {
    case 'blocked':
      return new ForbiddenError(
        `host ${url.hostname} resolves to a loopback, private or link-local address, which the proxy refuses (VAULT_ALLOW_PRIVATE_UPSTREAMS=true allows it for local development)`,
        'destination_blocked',
      );
    case 'unresolvable':
      return new BadGatewayError(`host ${url.hostname} could not be resolved`, 'upstream_unreachable');
    case 'timeout':
      return new GatewayTimeoutError(`${url.host} did not answer in time`, 'upstream_timeout');
    case 'too_large':
      return new BadGatewayError(
        `${url.host} answered with more than ${MAX_PROXY_RESPONSE_BYTES} bytes (1 MiB), which the proxy does not relay`,
        'upstream_response_too_large',
      );
    default:
      return new BadGatewayError(`${url.host} could not be reached or closed the connection`, 'upstream_unreachable');
  }
}

/** The body as sent by the upstream, decompressed (bounded) when it ignored accept-encoding: identity. */
function decodedBody(url: URL, res: OutboundResponse): Buffer {
  const encoding = String(res.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  const opts = { maxOutputLength: MAX_PROXY_RESPONSE_BYTES };
  try {
    if (encoding === 'identity' || encoding === '') return res.body;
    if (encoding === 'gzip' || encoding === 'x-gzip') return gunzipSync(res.body, opts);
    if (encoding === 'deflate') return inflateSync(res.body, opts);
    if (encoding === 'br') return brotliDecompressSync(res.body, opts);
  } catch {
    throw new BadGatewayError(`${url.host} answered with a ${encoding} body that does not decode within 1 MiB`, 'upstream_bad_encoding');
  }
  throw new BadGatewayError(
    `${url.host} answered with content-encoding ${encoding.slice(0, 40)}, which the proxy cannot redact`,
    'upstream_bad_encoding',
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The upstream's answer with every form of every secret value replaced by [REDACTED]; `redactor`
 * is the Redactor of `secrets` when the caller built it already.
 */
export function redactedResponse(url: URL, res: OutboundResponse, secrets: readonly string[], redactor = new Redactor(secrets)): ProxyResponse {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined || RESPONSE_DROP.has(name)) continue;
    headers[name] = redactor.text(Array.isArray(value) ? value.join(', ') : value);
  }
  const bytes = decodedBody(url, res);
  let text: string | undefined;
  try {
    text = utf8.decode(bytes);
  } catch {
    text = undefined;
  }
  if (text !== undefined) return { status: res.status, headers, body: redactor.text(text), body_encoding: 'utf8' };
  // Not UTF-8: redact the secrets' bytes in a byte-for-byte (latin1) view, then base64.
  const byteRedactor = new Redactor(secrets.map((s) => Buffer.from(s, 'utf8').toString('latin1')));
  const redacted = Buffer.from(byteRedactor.text(bytes.toString('latin1')), 'latin1');
  return { status: res.status, headers, body: redacted.toString('base64'), body_encoding: 'base64' };
}

/**
 * The use as its record (the gate's recordUse) states it: 200 ok, written before the send. The
 * send decides the real outcome only later, so a send that is refused or fails gets a second
 * record with the caller's answer (403 destination_blocked, 502/504 upstream_*):
 * withFailureRecord in shared/audit/log.ts.
 *
 * Why not resolve and check the destination before recording the use (no "ok" record at all for
 * a blocked host)? The SSRF guard resolves the host once and pins the connection to exactly the
 * address it checked (shared/outbound/http-client.ts); a check here would be a second DNS answer,
 * which a rebinding name can make differ from the one the client then pins and sends to. Keeping
 * one resolution inside the client keeps the pin right, and the record still comes first.
 */
const useEvent = (use: OpenedForUse) => profileEvent(use.caller, use.purpose, use.profile.item, 200, 'ok');

/**
 * POST /v1/proxy: opens the profile for this request (the gate checks the token, the profile's
 * allowed hosts, paths and methods, then decrypts), injects its credential, records the use
 * (before the credential leaves the vault), sends, and returns the redacted answer.
 */
export async function proxyRequest(deps: Deps, caller: Caller, body: ProxyBody): Promise<ProxyResponse> {
  return proxyWith(deps, caller, { kind: 'token', agentId: body.agent_id, token: body.auth_token }, body);
}

/**
 * POST /v1/proxy by a runner holding a run grant (`Authorization: Bearer avg_…`, no API key): the
 * grant names the tenant, agent and profile; the rest is the same gate and the same proxy.
 */
export async function proxyWithGrant(deps: Deps, caller: Caller, grant: string, body: GrantProxyBody): Promise<ProxyResponse> {
  return proxyWith(deps, caller, { kind: 'grant', grant }, body);
}

async function proxyWith(deps: Deps, caller: Caller, credential: CredentialRef, body: GrantProxyBody): Promise<ProxyResponse> {
  const url = outboundUrl(deps, body.url, body.query);
  const use = await openForUse(deps, caller, credential, 'proxy', { request: { method: body.method, url }, withOAuthToken: true });
  const { request, secrets } = await injectCredential(deps, use, callerRequest(body.method, url, body.headers, body.body));
  await use.recordUse();
  // The answer's redactor is built while the upstream works (once the request is sent), not after.
  const redactor = lazy(() => new Redactor(secrets));
  return withFailureRecord(deps, useEvent(use), async () => redactedResponse(request.url, await send(deps, use, request, redactor.prepare), secrets, redactor.get()));
}

/**
 * POST …/auth-profiles/{name}/test: one real call with the credentials injected; answers whether
 * it succeeded (2xx), never the body, and stores last_tested_at / last_test_ok.
 */
export async function testProfile(
  deps: Deps,
  caller: Caller,
  agentId: string,
  name: string,
  body: TestProfileBody,
): Promise<TestProfileResponse> {
  const url = body.request ? parseOutboundUrl(body.request.url, deps.config.mode === 'aws') : undefined;
  const method = body.request?.method ?? 'GET';
  // The path names the profile: the gate checks access and the caller IP before it even parses
  // the token, and another profile's token answers like an unknown one.
  const use = await openForUse(
    deps,
    caller,
    { kind: 'named', agentId, name, token: body.auth_token },
    'test',
    url ? { request: { method, url }, withOAuthToken: true } : {},
  );
  if (!url) {
    // The client-credentials test is a token fetch; a delegated profile's is a call made as its end user.
    if (use.type.injection === 'access_token' && use.type.name === 'oauth2_client_credentials') return testTokenFetch(deps, use);
    throw new ValidationError(
      `request {method, url} is required to test an auth profile of auth_type ${use.type.name}: the vault does not guess which endpoint proves the credentials`,
    );
  }
  const { request } = await injectCredential(deps, use, callerRequest(method, url));
  await use.recordUse();
  const started = performance.now();
  let outcome: { ok: boolean; status?: number; error?: string };
  try {
    const res = await send(deps, use, request);
    const ok = res.status >= 200 && res.status < 300;
    outcome = {
      ok,
      status: res.status,
      error: ok
        ? undefined
        : `upstream answered HTTP ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}`,
    };
  } catch (err) {
    // A refused destination is the caller's error (403), not a failed test; its use record gets its refusal (useEvent).
    if (err instanceof ForbiddenError || !(err instanceof BadGatewayError || err instanceof GatewayTimeoutError)) {
      await auditFailure(deps, useEvent(use), err);
      throw err;
    }
    outcome = { ok: false, error: err.message };
  }
  const latency_ms = Math.round((performance.now() - started) * 10) / 10;
  const item = use.profile.item;
  await deps.store.profiles.recordTest(profileRefOf(item), item.generation, deps.now().toISOString(), outcome.ok);
  return {
    ok: outcome.ok,
    ...(outcome.status !== undefined ? { status: outcome.status } : {}),
    latency_ms,
    ...(outcome.error ? { error: outcome.error } : {}),
  };
}

/**
 * The OAuth2 profile test without a request: one real token request (not the cache, which would
 * prove nothing), timed; the outcome is stored like any test, and a failure as last_error too.
 * The fetched token is not kept.
 */
async function testTokenFetch(deps: Deps, use: OpenedForUse): Promise<TestProfileResponse> {
  const item = use.profile.item;
  await use.recordUse();
  const started = performance.now();
  const result = await fetchAccessToken(
    use.config as unknown as TokenEndpointConfig,
    { client_id: use.secret.client_id ?? '', client_secret: use.secret.client_secret ?? '' },
    { ...tokenFetchOptions(deps), connectionScope: tokenConnectionScope(item) },
  );
  const latency_ms = Math.round((performance.now() - started) * 10) / 10;
  const at = deps.now().toISOString();
  const profiles = deps.store.profiles;
  const ref = profileRefOf(item);
  await Promise.all([
    profiles.recordTest(ref, item.generation, at, result.ok),
    ...(result.ok && item.last_error === undefined
      ? []
      : [profiles.recordTokenError(ref, item.generation, result.ok ? undefined : result.message, at)]),
  ]);
  if (result.ok) return { ok: true, status: 200, latency_ms };
  return { ok: false, ...(result.status !== undefined ? { status: result.status } : {}), latency_ms, error: result.message };
}
