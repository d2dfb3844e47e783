import { describe, expect, it } from 'vitest';
import { ValidationError } from '#shared/errors';
import { mergeParameters } from '#shared/services/runs';

describe('mergeParameters', () => {
  const agent = {
    agent_id: 'crm-bot',
    input_args: [
      { name: 'username', required: true, secret: true },
      { name: 'password', required: true, secret: true },
      { name: 'query', required: false, secret: false },
    ],
  } as unknown as Parameters<typeof mergeParameters>[0];

  it('merges auth_data and parameters', () => {
    expect(mergeParameters(agent, { username: 'u', password: 'p' }, { query: 'q' })).toEqual({ username: 'u', password: 'p', query: 'q' });
  });

  it('refuses a key that comes from both sides with 400 parameter_conflict', () => {
    const attempt = () => mergeParameters(agent, { username: 'u', password: 'p' }, { password: 'x' });

    expect(attempt).toThrow(ValidationError);
    expect(attempt).toThrow(expect.objectContaining({ status: 400, code: 'parameter_conflict' }));
  });

  it('names every conflicting key', () => {
    expect(() => mergeParameters(agent, { username: 'u', password: 'p' }, { username: 'x', password: 'y' })).toThrow(
      /"username", "password"/,
    );
  });

  it('refuses a parameter that is not an input argument with 400 unknown_input_args', () => {
    expect(() => mergeParameters(agent, {}, { username: 'u', password: 'p', otp: '1' })).toThrow(
      expect.objectContaining({ status: 400, code: 'unknown_input_args', message: expect.stringContaining('"otp"') }),
    );
  });

  it('names every missing required argument', () => {
    expect(() => mergeParameters(agent, {}, { query: 'q' })).toThrow(/input arguments "username", "password"/);
  });

  it('treats null as missing', () => {
    expect(() => mergeParameters(agent, { username: 'u' }, { password: null })).toThrow(
      expect.objectContaining({ code: 'missing_input_args' }),
    );
  });

  it('accepts falsy but present values for required arguments', () => {
    expect(mergeParameters(agent, {}, { username: '', password: 0 })).toEqual({ username: '', password: 0 });
  });
});
