/**
 * A value built at most once, on first use or ahead of it (`prepare`, e.g. while an answer is
 * awaited: shared/outbound/http-client.ts `onSent`). A build that throws throws again at `get`,
 * never at `prepare`, which can run inside an event handler.
 */
export interface Lazy<T> {
  /** Builds the value now if it is not built yet; never throws. */
  readonly prepare: () => void;
  /** The value (built now if `prepare` has not run), or the build's error. */
  readonly get: () => T;
}

export function lazy<T>(build: () => T): Lazy<T> {
  let state: { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown } | undefined;
  const prepare = () => {
    if (state) return;
    try {
      state = { ok: true, value: build() };
    } catch (error) {
      state = { ok: false, error };
    }
  };
  return {
    prepare,
    get: () => {
      prepare();
      const s = state as NonNullable<typeof state>;
      if (!s.ok) throw s.error;
      return s.value;
    },
  };
}
