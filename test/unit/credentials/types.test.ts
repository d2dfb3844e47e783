import { describe, expect, it } from 'vitest';
import { ValidationError } from '#shared/errors';
import { type InjectResult, type OutboundRequest, authTypeModule, authTypes, parseCredential } from '#shared/credentials/types/index';

const credentialType = authTypeModule;
const LOCAL = { httpsOnly: false };
const DEPLOYED = { httpsOnly: true };
/** The injected request (fails the test if the type refused). */
const req = (r: InjectResult): OutboundRequest => {
  if (!r.injectable) throw new Error(`not injectable: ${r.reason}`);
  return r.request;
};
const credentialTypes = {
  bearer: { inject: (r: OutboundRequest, s: Record<string, string>, c: unknown) => req(authTypes.bearer.inject(r, s, c as never)) },
  basic: { inject: (r: OutboundRequest, s: Record<string, string>, c: unknown) => req(authTypes.basic.inject(r, s, c as never)) },
  api_key: { inject: (r: OutboundRequest, s: Record<string, string>, c: unknown) => req(authTypes.api_key.inject(r, s, c as never)) },
  oauth2_client_credentials: { inject: (r: OutboundRequest, s: Record<string, string>, c: unknown) => req(authTypes.oauth2_client_credentials.inject(r, s, c as never)) },
};

const base = (over: Partial<OutboundRequest> = {}): OutboundRequest => ({
  method: 'POST',
  url: new URL('https://api.example.com/v1/items?page=2'),
  headers: { 'content-type': 'application/json', accept: 'application/json' },
  body: '{"name":"x"}',
  ...over,
});

const message = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as Error).message;
  }
  throw new Error('expected a ValidationError');
};

describe('parseCredential', () => {
  it('accepts a bearer profile with a token and no config', () => {
    expect(parseCredential(credentialType('bearer'), undefined, { token: 't0k' }, LOCAL)).toEqual({ authType: 'bearer', config: {} });
  });

  it.each([
    ['bearer', {}, {}, 'auth_data.token: is required'],
    ['bearer', {}, { token: 'x', other: 'y' }, 'auth_data'],
    ['bearer', {}, { token: 'two words' }, 'visible ASCII without spaces'],
    ['bearer', {}, { token: 'snow\u2603' }, 'visible ASCII without spaces'],
    ['api_key', { api_key_method: 'header' }, { 'X-Key': 'a\r\nX-Evil: 1' }, 'cannot be sent in a header'],
    ['api_key', { api_key_method: 'header' }, { 'X-Key': 'snow\u2603' }, 'cannot be sent in a header'],
    ['basic', {}, { username: 'u' }, 'auth_data.password: is required'],
    ['basic', {}, { password: 'p' }, 'auth_data.username: is required'],
    ['basic', {}, { username: 'a:b', password: 'p' }, 'must not contain ":"'],
    ['api_key', {}, { 'X-Api-Key': 'v' }, 'auth_config.api_key_method: is required'],
    ['api_key', { api_key_method: 'cookie' }, { k: 'v' }, 'auth_config.api_key_method'],
    ['api_key', { api_key_method: 'header' }, {}, 'at least one key/value pair'],
    ['api_key', { api_key_method: 'header' }, { 'Bad Header': 'v' }, 'invalid key name "Bad Header"'],
    ['api_key', { api_key_method: 'header' }, { Host: 'v' }, 'invalid key name "Host"'],
    ['api_key', { api_key_method: 'header' }, { 'x-key': 'a', 'X-Key': 'b' }, 'differ in more than letter case'],
    ['api_key', { api_key_method: 'query' }, { 'a&b': 'v' }, 'invalid key name "a&b"'],
    ['oauth2_client_credentials', { token_url: 'https://auth.example.com/token' }, { client_id: 'c' }, 'auth_data.client_secret: is required'],
    ['oauth2_client_credentials', {}, { client_id: 'c', client_secret: 's' }, 'auth_config.token_url: is required'],
    ['oauth2_client_credentials', { token_url: 'ftp://x/token' }, { client_id: 'c', client_secret: 's' }, 'auth_config.token_url'],
    ['oauth2_client_credentials', { token_url: 'https://u:p@x.example/token' }, { client_id: 'c', client_secret: 's' }, 'must not contain credentials'],
    ['oauth2_client_credentials', { token_url: 'https://x.example/t', client_auth: 'jwt' }, { client_id: 'c', client_secret: 's' }, 'auth_config.client_auth'],
    ['bearer', { api_key_method: 'header' }, { token: 't' }, 'auth_config'],
  ] as const)('refuses %s with config %j and data %j: %s', (type, config, data, expected) => {
    expect(message(() => parseCredential(credentialType(type), config, data as Record<string, string>, LOCAL))).toContain(expected);
  });

  it('defaults the OAuth2 client authentication to basic and keeps scope', () => {
    const parsed = parseCredential(credentialType('oauth2_client_credentials'), { token_url: 'https://auth.example.com/token', scope: 'read write' }, { client_id: 'c', client_secret: 's' }, DEPLOYED);
    expect(parsed.config).toEqual({ token_url: 'https://auth.example.com/token', scope: 'read write', client_auth: 'basic' });
  });

  it('accepts several api_key pairs', () => {
    const parsed = parseCredential(credentialType('api_key'), { api_key_method: 'header' }, { 'X-Api-Key': 'a', 'X-Api-Secret': 'b' }, LOCAL);
    expect(parsed).toEqual({ authType: 'api_key', config: { api_key_method: 'header' } });
  });

  it('refuses an http token_url when deployed, naming the field and asking for https', () => {
    const config = { token_url: 'http://auth.example.com/token' };

    const refused = message(() => parseCredential(credentialType('oauth2_client_credentials'), config, { client_id: 'c', client_secret: 's' }, DEPLOYED));

    expect(refused).toContain('auth_config.token_url must use https');
  });

  it('accepts an http token_url in local mode (loopback token servers)', () => {
    const parsed = parseCredential(credentialType('oauth2_client_credentials'), { token_url: 'http://127.0.0.1:8080/token' }, { client_id: 'c', client_secret: 's' }, LOCAL);

    expect(parsed.config).toMatchObject({ token_url: 'http://127.0.0.1:8080/token' });
  });

  it('says which auth_type the message is about', () => {
    expect(message(() => parseCredential(credentialType('bearer'), {}, {}, LOCAL))).toContain('auth_data for auth_type bearer');
  });
});

describe('inject', () => {
  it('bearer sets Authorization and drops the caller\'s own Authorization in any letter case', () => {
    const out = credentialTypes.bearer.inject(base({ headers: { Authorization: 'Bearer mine', 'proxy-authorization': 'x', accept: 'a' } }), { token: 'T1' }, {});
    expect(out.headers).toEqual({ authorization: 'Bearer T1', accept: 'a' });
  });

  it('basic sets Authorization: Basic base64(user:pass)', () => {
    const out = credentialTypes.basic.inject(base(), { username: 'alice', password: 'pä:ss' }, {});
    expect(out.headers.authorization).toBe(`Basic ${Buffer.from('alice:pä:ss', 'utf8').toString('base64')}`);
  });

  it('api_key header sets every pair and overrides the caller\'s copies', () => {
    const out = credentialTypes.api_key.inject(
      base({ headers: { 'x-api-key': 'mine', 'X-API-SECRET': 'mine2', authorization: 'Bearer mine', accept: 'a' } }),
      { 'X-Api-Key': 'K', 'X-Api-Secret': 'S' },
      { api_key_method: 'header' },
    );
    expect(out.headers).toEqual({ accept: 'a', 'x-api-key': 'K', 'x-api-secret': 'S' });
  });

  it('api_key query sets the parameters, replacing the caller\'s, and keeps the others', () => {
    const out = credentialTypes.api_key.inject(
      base({ url: new URL('https://api.example.com/v1?page=2&key=mine&key=mine2') }),
      { key: 'K&1=' },
      { api_key_method: 'query' },
    );
    expect(out.url.searchParams.getAll('key')).toEqual(['K&1=']);
    expect(out.url.searchParams.get('page')).toBe('2');
    expect(out.url.search).toBe('?page=2&key=K%261%3D');
  });

  it('api_key query does not touch the original request', () => {
    const req = base();
    credentialTypes.api_key.inject(req, { key: 'K' }, { api_key_method: 'query' });
    expect(req.url.search).toBe('?page=2');
  });

  it('api_key body adds fields to a JSON object body, overriding the caller\'s', () => {
    const out = credentialTypes.api_key.inject(base({ body: '{"name":"x","api_key":"mine"}' }), { api_key: 'K' }, { api_key_method: 'body' });
    expect(JSON.parse(out.body as string)).toEqual({ name: 'x', api_key: 'K' });
  });

  it('api_key body builds a JSON object when there is no body', () => {
    const out = credentialTypes.api_key.inject(base({ body: undefined, headers: {} }), { api_key: 'K' }, { api_key_method: 'body' });
    expect(JSON.parse(out.body as string)).toEqual({ api_key: 'K' });
    expect(out.headers['content-type']).toBe('application/json');
  });

  it('api_key body sets form fields in a form-urlencoded body', () => {
    const out = credentialTypes.api_key.inject(
      base({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&api_key=mine' }),
      { api_key: 'K 2' },
      { api_key_method: 'body' },
    );
    expect(out.body).toBe('a=1&api_key=K+2');
  });

  it('api_key body refuses a body it cannot hold fields in', () => {
    expect(message(() => credentialTypes.api_key.inject(base({ body: '[1,2]' }), { k: 'v' }, { api_key_method: 'body' }))).toContain('send body as a JSON object');
    expect(message(() => credentialTypes.api_key.inject(base({ body: '{not json' }), { k: 'v' }, { api_key_method: 'body' }))).toContain('send body as a JSON object');
    expect(message(() => credentialTypes.api_key.inject(base({ body: 'plain', headers: { 'content-type': 'text/plain' } }), { k: 'v' }, { api_key_method: 'body' }))).toContain(
      'application/x-www-form-urlencoded',
    );
  });

  it('api_key body drops the caller\'s Authorization too', () => {
    const out = credentialTypes.api_key.inject(base({ headers: { authorization: 'Bearer mine' } }), { k: 'v' }, { api_key_method: 'body' });
    expect(out.headers.authorization).toBeUndefined();
  });

  it('api_key body keeps a "__proto__" field the caller sent as data, not as a prototype', () => {
    const out = credentialTypes.api_key.inject(base({ body: '{"__proto__":{"polluted":1},"a":1}' }), { k: 'v' }, { api_key_method: 'body' });
    expect(out.body).toBe('{"__proto__":{"polluted":1},"a":1,"k":"v"}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('oauth2 injects the access token it is given as a bearer token', () => {
    const out = credentialTypes.oauth2_client_credentials.inject(base(), { access_token: 'AT' }, { token_url: 'https://x/t', client_auth: 'basic' });
    expect(out.headers.authorization).toBe('Bearer AT');
  });

  it('custom injects nothing and says so', () => {
    expect(authTypes.custom.injection).toBe('none');
    expect(authTypes.custom.inject(base(), { a: 'b' }, {}).injectable).toBe(false);
  });

  it('every other type is injectable', () => {
    for (const t of ['bearer', 'basic', 'api_key'] as const) expect(authTypes[t].injection).toBe('direct');
    expect(authTypes.oauth2_client_credentials.injection).toBe('access_token');
  });

  it('hands typed secrets to runners under their field names', () => {
    expect(authTypes.bearer.runParameters({ token: 't' })).toEqual({ token: 't' });
    expect(authTypes.basic.runParameters({ username: 'u', password: 'p' })).toEqual({ username: 'u', password: 'p' });
  });
});

describe('secretValues', () => {
  it('basic lists the values, the base64 and the user:pass forms', () => {
    const b64 = Buffer.from('u:p', 'utf8').toString('base64');
    expect(authTypes.basic.secretValues({ username: 'u', password: 'p' }, {})).toEqual(expect.arrayContaining(['u', 'p', b64, 'u:p']));
  });

  it('bearer lists the token and the header value', () => {
    expect(authTypes.bearer.secretValues({ token: 't' }, {})).toEqual(['t', 'Bearer t']);
  });

  it('api_key lists every value', () => {
    expect(authTypes.api_key.secretValues({ a: '1', b: '2' }, { api_key_method: 'header' })).toEqual(['1', '2']);
  });
});
