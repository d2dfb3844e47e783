/** Limits on the shape of JSON the vault accepts: request bodies (shared/http/middleware.ts) and runner answers (shared/runs/webhook.ts). */

/** Deepest nesting of objects and arrays a request body may have. */
export const MAX_JSON_DEPTH = 32;

/**
 * The nesting depth of a JSON text, found with one pass over its characters (brackets inside
 * strings do not count). Deeper documents would make every recursive walk over them — JSON
 * serialisation for the runner, redaction — a stack-overflow risk, so they are refused up front.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}
