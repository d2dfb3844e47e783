import { describe, expect, it } from 'vitest';
import { authTypes } from '#shared/credentials/types/index';

const { custom } = authTypes;

describe('custom auth type', () => {
  it('validates free-form string values with its schema', () => {
    expect(custom.schemaFor({}).safeParse({ username: 'ann', password: 'pw' }).success).toBe(true);
    expect(custom.schemaFor({}).safeParse({ password: 42 }).success).toBe(false);
  });

  it('hands its values to the runner as parameters (a copy)', () => {
    const secret = { username: 'ann', password: 'pw' };

    const params = custom.runParameters(secret);

    expect(params).toEqual(secret);
    expect(params).not.toBe(secret);
  });

  it('cannot be injected into an outbound request, and says why', () => {
    const result = custom.inject({ method: 'GET', url: new URL('https://api.example.test/'), headers: {} }, { password: 'pw' }, {});

    expect(result.injectable).toBe(false);
    expect(result.injectable === false && result.reason).toMatch(/typed profile/);
  });

  it('lists every value for the leak guard', () => {
    expect(custom.secretValues({ a: 'x', b: 'y' }, {}).sort()).toEqual(['x', 'y']);
  });
});
