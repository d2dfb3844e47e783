import { describe, expect, it } from 'vitest';
import { lazy } from '#shared/outbound/lazy';

describe('lazy', () => {
  it('builds once, whether prepared ahead or not', () => {
    let builds = 0;
    const value = lazy(() => ({ n: ++builds }));

    value.prepare();
    value.prepare();

    expect(value.get()).toEqual({ n: 1 });
    expect(value.get()).toBe(value.get());
    expect(builds).toBe(1);
  });

  it('builds on first get when never prepared', () => {
    const value = lazy(() => 42);

    expect(value.get()).toBe(42);
  });

  it('keeps a failed build for get: prepare never throws, get throws the build error', () => {
    const boom = new Error('build failed');
    const value = lazy<number>(() => {
      throw boom;
    });

    expect(() => value.prepare()).not.toThrow();
    expect(() => value.get()).toThrow(boom);
  });
});
