import { HttpError, isTransientDependencyError } from '../errors.ts';
import type { HttpResponse } from './responses.ts';

/**
 * Answers for routes an end user's browser opens (the OAuth connect flow: shared/http/routes.ts
 * `answers: 'html'`): a redirect, or a small static page. No script, no style, no external
 * resource; never framed; no referrer, so the provider's code and state in a callback URL are not
 * sent onwards; never cached.
 */
const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A 302 to `location` (an absolute URL the vault built). */
export function redirect(location: string): HttpResponse {
  return { statusCode: 302, headers: { ...PAGE_HEADERS, location } };
}

/** A plain HTML page with a title and one paragraph. */
export function htmlPage(statusCode: number, title: string, message: string, requestId?: string): HttpResponse {
  const body = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title></head>`,
    `<body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`,
    requestId ? `<p><small>Request id: ${escapeHtml(requestId)}</small></p>` : '',
    '</main></body></html>',
  ].join('');
  return { statusCode, headers: { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8' }, body };
}

/**
 * The page for an error of a browser route: an HttpError's own message (written for the end
 * user, never holding a secret), anything else a generic page with the request id — never a stack.
 */
export function errorPage(err: unknown, requestId: string): HttpResponse {
  if (err instanceof HttpError && err.status < 500) return htmlPage(err.status, 'This link cannot be used', err.message);
  if (isTransientDependencyError(err))
    return htmlPage(
      503,
      'Please try again',
      'The vault is briefly unable to complete this step; try again in a moment, and if this page comes back, ask the application that sent you here for a new link.',
      requestId,
    );
  if (err instanceof HttpError)
    return htmlPage(err.status, 'Something went wrong', 'The vault could not complete this step; try again in a moment.', requestId);
  return htmlPage(
    500,
    'Something went wrong',
    'The vault could not complete this step. Ask the application that sent you here for a new link.',
    requestId,
  );
}
