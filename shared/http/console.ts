import { consoleAssets } from '../../console/dist/assets.ts';
import type { HttpResponse } from './responses.ts';

/**
 * Headers of every console response. The console is script from 'self' only (no inline script or
 * style anywhere), talks to the API on its own origin, cannot be framed, sends no referrer, and
 * may not turn strings into markup or script (Trusted Types, enforced by Chromium).
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join('; '),
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

/** Where the console lives; `/console` redirects here so relative asset URLs resolve. */
export const CONSOLE_PATH = '/console/';

/**
 * The answer for a GET under /console, or undefined when there is no such file (the caller
 * answers its usual JSON 404). Files carry an ETag and must be revalidated (`no-cache`), so a
 * new deployment is picked up at once; an unchanged file costs a 304.
 */
export function consoleResponse(rawPath: string, ifNoneMatch?: string): HttpResponse | undefined {
  if (rawPath === '/console') return { statusCode: 308, headers: { ...CONSOLE_SECURITY_HEADERS, location: CONSOLE_PATH, 'cache-control': 'no-cache' } };
  if (!rawPath.startsWith(CONSOLE_PATH)) return undefined;
  const name = rawPath === CONSOLE_PATH ? 'index.html' : rawPath.slice(CONSOLE_PATH.length);
  const asset = Object.hasOwn(consoleAssets, name) ? consoleAssets[name] : undefined;
  if (!asset) return undefined;
  const headers = { ...CONSOLE_SECURITY_HEADERS, 'content-type': asset.contentType, 'cache-control': 'no-cache', etag: asset.etag };
  if (ifNoneMatch?.split(',').some((t) => t.trim() === asset.etag)) return { statusCode: 304, headers };
  return { statusCode: 200, headers, body: asset.body };
}
