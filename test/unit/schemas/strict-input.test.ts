import { describe, expect, it } from 'vitest';
import type * as z from '#shared/schemas/zod';
import { UnknownFieldError, ValidationError } from '#shared/errors';
import { CreateAgentBody, UpdateAgentBody } from '#shared/schemas/agents';
import { CreateApiKeyBody } from '#shared/schemas/api-keys';
import { AuditQuery } from '#shared/schemas/audit';
import { AgentId, NoBody, NoQuery, ProfileName, knownFieldsAt, nearestField, parseInput } from '#shared/schemas/common';
import { DeleteQuery, PatchProfileBody, RotateProfileBody } from '#shared/schemas/lifecycle';
import {
  CreateProfileBody,
  GrantPrincipal,
  ListQuery,
  NativeCreateProfileBody,
  NativePutProfileBody,
  ProfileListQuery,
  ShareProfileBody,
  TenantProfileListQuery,
  UpsertProfileBody,
} from '#shared/schemas/profiles';
import { GrantProxyBody, ProxyBody, TestProfileBody } from '#shared/schemas/proxy';
import { RunAgentBody } from '#shared/schemas/runs';
import { authTypeModule, parseCredential } from '#shared/credentials/types/index';

/** Throws what parseInput throws, or fails the test. */
function refusal(schema: z.ZodMiniType, input: unknown, what?: string): UnknownFieldError {
  try {
    parseInput(schema, input, what);
  } catch (err) {
    return err as UnknownFieldError;
  }
  throw new Error('expected a refusal');
}

const agentBody = {
  agent_id: 'crm-bot',
  name: 'CRM',
  input_args: [{ name: 'password' }],
  runner: { type: 'webhook', url: 'https://runner.example.com/run' },
};
const token = `avt_${'A'.repeat(70)}`;

const requestSchemas: [string, z.ZodMiniType][] = [
  ['CreateAgentBody', CreateAgentBody],
  ['UpdateAgentBody', UpdateAgentBody],
  ['CreateApiKeyBody', CreateApiKeyBody],
  ['AuditQuery', AuditQuery],
  ['RotateProfileBody', RotateProfileBody],
  ['PatchProfileBody', PatchProfileBody],
  ['DeleteQuery', DeleteQuery],
  ['CreateProfileBody', CreateProfileBody],
  ['UpsertProfileBody', UpsertProfileBody],
  ['NativeCreateProfileBody', NativeCreateProfileBody],
  ['NativePutProfileBody', NativePutProfileBody],
  ['ShareProfileBody', ShareProfileBody],
  ['ListQuery', ListQuery],
  ['ProfileListQuery', ProfileListQuery],
  ['TenantProfileListQuery', TenantProfileListQuery],
  ['ProxyBody', ProxyBody],
  ['GrantProxyBody', GrantProxyBody],
  ['TestProfileBody', TestProfileBody],
  ['RunAgentBody', RunAgentBody],
  ['NoBody', NoBody],
  ['NoQuery', NoQuery],
];

describe('strict request schemas', () => {
  it.each(requestSchemas)('%s refuses a field it does not know', (_, schema) => {
    const result = schema.safeParse({ zz_not_a_field: 1 });

    expect(result.success).toBe(false);
    expect(result.error?.issues.some((i) => i.code === 'unrecognized_keys' && i.keys.includes('zz_not_a_field'))).toBe(true);
  });

  it.each([
    ['an input argument', { ...agentBody, input_args: [{ name: 'password', secrte: true }] }, 'input_args[0].secrte', 'secret'],
    ['the runner', { ...agentBody, runner: { ...agentBody.runner, timeout: 500 } }, 'runner.timeout', 'timeout_ms'],
  ])('CreateAgentBody refuses an unknown field in %s, by its path', (_, body, field, suggestion) => {
    const err = refusal(CreateAgentBody, body);

    expect(err.unknownFields).toEqual([{ field, suggestion }]);
  });

  it('TestProfileBody refuses an unknown field in its request', () => {
    const err = refusal(TestProfileBody, { auth_token: token, request: { url: 'https://api.example.com/', headers: {} } });

    expect(err.unknownFields).toEqual([{ field: 'request.headers' }]);
  });

  it.each([
    ['CreateProfileBody', CreateProfileBody, { name: 'main', agent_id: 'crm-bot', auth_data: { password: 'x' } }],
    ['UpsertProfileBody', UpsertProfileBody, { name: 'main', agent_id: 'crm-bot', auth_data: { password: 'x' } }],
    ['RunAgentBody', RunAgentBody, { agent_id: 'crm-bot' }],
  ])('the compatible %s accepts api_key in the body (the authenticate middleware reads it)', (_, schema, body) => {
    expect(() => parseInput(schema, { ...body, api_key: 'avk_x' })).not.toThrow();
  });

  it.each([
    ['NativeCreateProfileBody', NativeCreateProfileBody, { name: 'main', auth_data: { password: 'x' } }],
    ['NativePutProfileBody', NativePutProfileBody, { auth_data: { password: 'x' } }],
    ['ShareProfileBody', ShareProfileBody, { principal: 'role:member', permission: 'read' }],
    ['CreateApiKeyBody', CreateApiKeyBody, { name: 'ops' }],
    ['CreateAgentBody', CreateAgentBody, agentBody],
  ])('the native %s accepts api_key in the body too (any body may carry the key)', (_, schema, body) => {
    expect(() => parseInput(schema, { ...body, api_key: 'avk_x' })).not.toThrow();
  });
});

describe('parseInput: unknown fields', () => {
  it('answers 400 unknown_field naming the field and the nearest known one', () => {
    const err = refusal(NativeCreateProfileBody, { name: 'main', auth_data: { password: 'x' }, allowed_method: ['GET'] });

    expect(err).toBeInstanceOf(UnknownFieldError);
    expect(err).toBeInstanceOf(Error);
    expect(err.status).toBe(400);
    expect(err.code).toBe('unknown_field');
    expect(err.message).toBe('Unknown field "allowed_method" in request body; did you mean "allowed_methods"?');
    expect(err.details).toEqual({ unknown_fields: [{ field: 'allowed_method', suggestion: 'allowed_methods' }] });
  });

  it('suggests the PATCH field for a misspelled allowed_source_ips', () => {
    const err = refusal(PatchProfileBody, { active: true, allowed_source_ip: ['10.0.0.0/8'] });

    expect(err.message).toBe('Unknown field "allowed_source_ip" in request body; did you mean "allowed_source_ips"?');
  });

  it('names every unknown field, at every depth, each with its suggestion', () => {
    const err = refusal(CreateAgentBody, {
      ...agentBody,
      credential_delivry: 'proxy',
      input_args: [{ name: 'a', requried: true }],
      zzz: 1,
    });

    expect(err.unknownFields).toEqual([
      { field: 'input_args[0].requried', suggestion: 'required' },
      { field: 'credential_delivry', suggestion: 'credential_delivery' },
      { field: 'zzz' },
    ]);
    expect(err.message).toBe(
      'Unknown fields in request body: "input_args[0].requried" (did you mean "required"?), "credential_delivry" (did you mean "credential_delivery"?), "zzz"; remove or correct them',
    );
  });

  it('says where a field a create does not take is set (allowed_source_ips: PATCH)', () => {
    const err = refusal(NativeCreateProfileBody, { name: 'main', auth_data: { password: 'x' }, allowed_source_ips: ['10.0.0.0/8'] });

    expect(err.message).toBe(
      'Unknown field "allowed_source_ips" in request body; it is not set here: set it with PATCH /v1/agents/{agent_id}/auth-profiles/{name} once the profile exists',
    );
    expect(err.unknownFields).toEqual([{ field: 'allowed_source_ips', hint: expect.stringContaining('PATCH') }]);
  });

  it('suggests a field set elsewhere for its typo, and says where it is set', () => {
    const err = refusal(UpsertProfileBody, {
      agent_id: 'a',
      name: 'main',
      auth_data: { password: 'x' },
      allowed_source_ip: ['10.0.0.0/8'],
    });

    expect(err.message).toBe(
      'Unknown field "allowed_source_ip" in request body; did you mean "allowed_source_ips"? That one is not set here: set it with PATCH /v1/agents/{agent_id}/auth-profiles/{name} once the profile exists',
    );
  });

  it('lists the known fields of the object when no known field is close', () => {
    const err = refusal(ListQuery, { page: '2' }, 'query string');

    expect(err.message).toBe('Unknown field "page" in query string; remove it; the known fields there are limit, cursor');
    expect(err.unknownFields).toEqual([{ field: 'page' }]);
  });

  it('says that nothing is accepted where a route takes no body or no query', () => {
    expect(refusal(NoBody, { force: true }).message).toBe('Unknown field "force" in request body; remove it; none is accepted there');
    expect(refusal(NoQuery, { force: 'true' }, 'query string').message).toBe(
      'Unknown field "force" in query string; remove it; none is accepted there',
    );
    expect(parseInput(NoBody, {})).toEqual({});
  });

  it('also reports the other problems of the same input', () => {
    const err = refusal(NativeCreateProfileBody, { auth_data: { password: 'x' }, expires_in_hour: 1 });

    expect(err.code).toBe('unknown_field');
    expect(err.message).toBe('Unknown field "expires_in_hour" in request body; did you mean "expires_in_hours"? Also: name: is required');
  });

  it('quotes at most 64 characters of a field name, in the message and the details, and names at most 20 fields', () => {
    const body: Record<string, unknown> = { [`x${'y'.repeat(200)}`]: 1 };
    for (let i = 0; i < 30; i++) body[`extra_${i}`] = i;

    const err = refusal(NoBody, body);

    expect(err.unknownFields).toHaveLength(20);
    expect(err.message).toContain('and 11 more');
    expect(err.message).not.toContain('y'.repeat(100));
    expect(JSON.stringify(err.details)).not.toContain('y'.repeat(100));
  });

  it('is still a plain 400 validation_error when every field is known', () => {
    const err = refusal(NativeCreateProfileBody, { auth_data: { password: 'x' } });

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.code).toBe('validation_error');
  });

  it('refuses an unknown auth_config field of a typed profile with its nearest known one', () => {
    let err: UnknownFieldError | undefined;
    try {
      parseCredential(authTypeModule('api_key'), { api_key_methd: 'header' }, { 'X-Api-Key': 'k' }, { httpsOnly: false });
    } catch (e) {
      err = e as UnknownFieldError;
    }

    expect(err?.code).toBe('unknown_field');
    expect(err?.unknownFields).toEqual([{ field: 'auth_config.api_key_methd', suggestion: 'api_key_method' }]);
  });
});

describe('knownFieldsAt', () => {
  it('finds the fields of the object at a path, through arrays, optionals and unions', () => {
    expect(knownFieldsAt(CreateAgentBody, ['input_args', 0])).toEqual(['name', 'required', 'secret', 'description']);
    expect(knownFieldsAt(CreateAgentBody, ['runner'])).toEqual(['type', 'url', 'timeout_ms']);
    expect(knownFieldsAt(TestProfileBody, ['request'])).toEqual(['method', 'url']);
    expect(knownFieldsAt(PatchProfileBody, [])).toContain('allowed_source_ips');
  });
});

describe('nearestField', () => {
  const known = [
    'name',
    'auth_type',
    'auth_data',
    'allowed_hosts',
    'allowed_path_prefixes',
    'allowed_methods',
    'expires_in_hours',
    'auth_token',
  ];

  it.each([
    ['allowed_method', 'allowed_methods'],
    ['allowedHosts', 'allowed_hosts'],
    ['Allowed-Hosts', 'allowed_hosts'],
    ['nmae', 'name'],
    ['expires_in_hour', 'expires_in_hours'],
    ['auth_dat', 'auth_data'],
    ['hosts', 'allowed_hosts'],
    ['auth_tpye', 'auth_type'],
    ['token', 'auth_token'],
  ])('suggests %s → %s', (unknown, expected) => {
    expect(nearestField(unknown, known)).toBe(expected);
  });

  it.each(['foo', 'token_expiry', 'x', 'description', 'auth_type_x_y'])(
    'suggests nothing for %s, which is close to no known field',
    (unknown) => {
      expect(nearestField(unknown, known)).toBeUndefined();
    },
  );
});

describe('Unicode format characters (category Cf) in names and ids', () => {
  it.each([
    ['a trailing BOM', 'main\ufeff', 'U+FEFF'],
    ['a zero-width space', 'ma\u200bin', 'U+200B'],
    ['a soft hyphen', 'ma\u00adin', 'U+00AD'],
    ['a right-to-left override', 'invoice\u202etxt', 'U+202E'],
  ])('refuses a profile name with %s, naming the character and its class', (_, name, codePoint) => {
    const err = refusal(ProfileName, name, 'profile name');

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain(codePoint);
    expect(err.message).toContain('Unicode format character (category Cf)');
  });

  it('refuses an agent id with a format character, saying so rather than only "letters, digits"', () => {
    const err = refusal(AgentId, 'crm-bot\u200b', 'agent_id');

    expect(err.message).toContain('U+200B at position 7 is a Unicode format character (category Cf)');
    expect(err.message).not.toContain('letters, digits');
  });

  it('refuses an input argument name with a format character, naming the class', () => {
    const err = refusal(CreateAgentBody, { ...agentBody, input_args: [{ name: 'pass\u200dword' }] });

    expect(err.message).toContain('input_args[0].name: must not contain invisible or direction-changing characters: U+200D at position 4');
  });

  it('refuses a grant principal with a format character, naming the class', () => {
    expect(refusal(GrantPrincipal, 'role:member\ufeff', 'principal').message).toContain('category Cf');
  });

  it.each([
    ['a trailing BOM (which trim() would strip)', 'ops\ufeff'],
    ['a zero-width space', 'o\u200bps'],
  ])('refuses an API-key name with %s instead of normalising it', (_, name) => {
    const err = refusal(CreateApiKeyBody, { name });

    expect(err.message).toContain('category Cf');
  });

  it('still trims ordinary spaces around an API-key name', () => {
    expect(parseInput(CreateApiKeyBody, { name: '  ops  ' }).name).toBe('ops');
  });
});

describe('profile listing filters (docs/api.md, "Search and filter")', () => {
  it('refuses an unknown parameter with 400 unknown_field naming the nearest filter', () => {
    const err = refusal(ProfileListQuery, { visibilty: 'shared' }, 'query string');

    expect(err).toBeInstanceOf(UnknownFieldError);
    expect(err.message).toMatch(/visibilty/);
    expect(err.message).toMatch(/visibility/);
  });

  it('refuses agent_id on the per-agent listing (the path names the agent)', () => {
    expect(refusal(ProfileListQuery, { agent_id: 'bot' }, 'query string')).toBeInstanceOf(UnknownFieldError);
    expect(parseInput(TenantProfileListQuery, { agent_id: 'bot' }, 'query string').agent_id).toBe('bot');
  });

  it.each([
    ['auth_type', 'oauth', /custom, bearer, basic, api_key, oauth2_client_credentials/],
    ['visibility', 'public', /private, shared/],
    ['token_state', 'stale', /valid, expiring_soon, expired/],
    ['connection_state', 'broken', /pending, connected, needs_reauth, disconnected/],
    ['active', 'yes', /true, false/],
  ])('refuses a bad %s value with 400 naming the allowed values', (field, value, allowed) => {
    const err = refusal(TenantProfileListQuery, { [field]: value }, 'query string');

    expect(err).toBeInstanceOf(ValidationError);
    expect(err).not.toBeInstanceOf(UnknownFieldError);
    expect(err.message).toMatch(new RegExp(field));
    expect(err.message).toMatch(allowed);
  });

  it('reads active as a boolean and keeps paging defaults', () => {
    expect(parseInput(ProfileListQuery, { active: 'false', q: 'git' })).toEqual({ limit: 50, active: false, q: 'git' });
  });
});
