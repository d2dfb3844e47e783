export const REDACTED = '[REDACTED]';

/**
 * Replaces every exact occurrence of a secret value inside strings (and object keys) of a JSON
 * value with [REDACTED], and a number whose text is a secret (a PIN echoed as a number) by the
 * string [REDACTED]. Longer secrets are replaced first so one that contains another is
 * removed whole.
 */
export function redactSecrets<T>(value: T, secrets: readonly string[]): T {
  const list = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  if (list.length === 0) return value;
  const inString = (s: string) => {
    let out = s;
    for (const secret of list) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return inString(v);
    if (typeof v === 'number' && list.includes(String(v))) return REDACTED;
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(v)) {
        Object.defineProperty(out, inString(k), { value: walk(inner), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return v;
  };
  return walk(value) as T;
}
