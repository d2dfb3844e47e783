import 'aws-sdk-client-mock-vitest/extend';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MethodNotAllowedError, NotFoundError } from '#shared/errors';
import { apiKeyOf, authenticate } from '#shared/http/authenticate';
import { errorResponses, jsonBody, MAX_BODY_BYTES, type VaultEvent } from '#shared/http/middleware';
import { ok } from '#shared/http/responses';
import { newApiKey } from '#test/support/vault';
import { apiEvent, invoke, type MockedVault, mockedVault, stageDefaults, TENANT } from '../handlers/mocked-deps.ts';

let v: MockedVault;

beforeAll(async () => {
  v = await mockedVault();
});

afterAll(() => v.ddb.restore());

beforeEach(() => stageDefaults(v.ddb, v.apiKey));

const getDeps = async () => v.deps;

/** The middleware stack of every route group, around a handler that echoes what it was given. */
const probe = middy<VaultEvent, APIGatewayProxyResultV2>()
  .use(errorResponses(async () => v.deps.log))
  .use(jsonBody())
  .use(authenticate(getDeps))
  .handler(async (event) => ok({ tenant: event.tenant, json: event.json }));

/** Sends `rawBody` with the given content type and a valid API key in the Authorization header. */
const send = (
  rawBody: string | undefined,
  headers: Record<string, string> = { 'content-type': 'application/json' },
  extra: Partial<VaultEvent> = {},
) => {
  const event = apiEvent('POST', '/api/create_agent_auth_profile', { apiKey: v.apiKey });
  return invoke(probe, {
    ...event,
    headers: { ...event.headers, ...headers },
    ...(rawBody === undefined ? {} : { body: rawBody }),
    ...extra,
  });
};

/** A JSON object whose serialisation is exactly `bytes` long. */
const jsonOfSize = (bytes: number, char = 'x') => {
  const overhead = '{"pad":""}'.length;
  const unit = Buffer.byteLength(char);
  const padded = char.repeat(Math.floor((bytes - overhead) / unit));
  const text = `{"pad":"${padded}${'y'.repeat(bytes - overhead - Buffer.byteLength(padded))}"}`;
  expect(Buffer.byteLength(text)).toBe(bytes);
  return text;
};

describe('jsonBody', () => {
  it('parses a JSON object body', async () => {
    const res = await send('{"a":1,"b":{"c":[true]}}');

    expect(res.statusCode).toBe(200);
    expect(res.json.json).toEqual({ a: 1, b: { c: [true] } });
  });

  it('gives an empty object for a request without a body', async () => {
    const res = await send(undefined, {});

    expect(res.statusCode).toBe(200);
    expect(res.json.json).toEqual({});
  });

  it('accepts a body of exactly 256 KiB', async () => {
    const res = await send(jsonOfSize(MAX_BODY_BYTES));

    expect(res.statusCode).toBe(200);
  });

  it('answers 413 payload_too_large for a body one byte over 256 KiB', async () => {
    const res = await send(jsonOfSize(MAX_BODY_BYTES + 1));

    expect(res.statusCode).toBe(413);
    expect(res.json.error.code).toBe('payload_too_large');
    expect(res.json.error.message).toContain('256 KiB');
  });

  it('counts the limit in UTF-8 bytes, not characters', async () => {
    const res = await send(jsonOfSize(MAX_BODY_BYTES + 2, 'é'));

    expect(res.statusCode).toBe(413);
  });

  it('applies the limit to a base64-encoded body after decoding', async () => {
    const big = Buffer.from(jsonOfSize(MAX_BODY_BYTES + 1)).toString('base64');

    const res = await send(big, undefined, { isBase64Encoded: true });

    expect(res.statusCode).toBe(413);
  });

  it('decodes a base64-encoded JSON body', async () => {
    const res = await send(Buffer.from('{"a":"b"}').toString('base64'), undefined, { isBase64Encoded: true });

    expect(res.statusCode).toBe(200);
    expect(res.json.json).toEqual({ a: 'b' });
  });

  it.each([['text/plain'], ['application/x-www-form-urlencoded'], ['multipart/form-data; boundary=x'], ['application/jsonp'], ['']])(
    'answers 415 unsupported_media_type for Content-Type "%s"',
    async (type) => {
      const res = await send('{"a":1}', { 'content-type': type });

      expect(res.statusCode).toBe(415);
      expect(res.json.error.code).toBe('unsupported_media_type');
      expect(res.json.error.message).toContain('application/json');
    },
  );

  it('answers 415 when a body comes without a Content-Type', async () => {
    const event = apiEvent('POST', '/api/create_agent_auth_profile', { apiKey: v.apiKey });
    const { 'content-type': _t, ...headers } = event.headers as Record<string, string>;

    const res = await invoke(probe, { ...event, headers, body: '{"a":1}' });

    expect(res.statusCode).toBe(415);
  });

  it.each([['application/json; charset=utf-8'], ['Application/JSON'], ['application/vnd.api+json']])(
    'accepts Content-Type "%s"',
    async (type) => {
      const res = await send('{"a":1}', { 'content-type': type });

      expect(res.statusCode).toBe(200);
    },
  );

  it.each([['{"a":'], ['{a:1}'], ["{'a':1}"], ['{"a":1}}'], ['\u0000']])('answers 400 invalid_json for malformed JSON %j', async (raw) => {
    const res = await send(raw);

    expect(res.statusCode).toBe(400);
    expect(res.json.error.code).toBe('invalid_json');
  });

  it.each([['[]'], ['[{"a":1}]'], ['"text"'], ['42'], ['null'], ['true']])(
    'answers 400 invalid_json for a body that is not an object: %s',
    async (raw) => {
      const res = await send(raw);

      expect(res.statusCode).toBe(400);
      expect(res.json.error.code).toBe('invalid_json');
      expect(res.json.error.message).toContain('object');
    },
  );

  it.each([['{"__proto__":{"polluted":true}}'], ['{"a":{"b":[{"__proto__":{"polluted":true}}]}}'], ['{"auth_data":{"__proto__":"x"}}']])(
    'refuses a "__proto__" key anywhere with 400: %s',
    async (raw) => {
      const res = await send(raw);

      expect(res.statusCode).toBe(400);
      expect(res.json.error.message).toContain('__proto__');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );

  it('does not echo the malformed body in the error', async () => {
    const res = await send('{"password":"canary-pw-json"');

    expect(res.text).not.toContain('canary-pw-json');
  });
});

describe('apiKeyOf', () => {
  const event = (headers: Record<string, string>, json?: unknown) => ({ ...apiEvent('GET', '/v1/agents'), headers, json }) as VaultEvent;

  it('reads "Authorization: Bearer <key>"', () => {
    expect(apiKeyOf(event({ authorization: 'Bearer avk_abc' }))).toBe('avk_abc');
  });

  it('accepts the Bearer scheme in any case and surrounding spaces', () => {
    expect(apiKeyOf(event({ authorization: 'bearer   avk_abc  ' }))).toBe('avk_abc');
  });

  it('reads the X-Api-Key header', () => {
    expect(apiKeyOf(event({ 'x-api-key': 'avk_def' }))).toBe('avk_def');
  });

  it('reads the body field api_key', () => {
    expect(apiKeyOf(event({}, { api_key: 'avk_ghi' }))).toBe('avk_ghi');
  });

  it('ignores an Authorization header of another scheme', () => {
    expect(apiKeyOf(event({ authorization: 'Basic dXNlcjpwdw==' }))).toBeUndefined();
  });

  it('ignores a body api_key that is not a string', () => {
    expect(apiKeyOf(event({}, { api_key: ['avk_x'] }))).toBeUndefined();
  });
});

describe('authenticate', () => {
  const withHeaders = (headers: Record<string, string>, body?: unknown) => {
    const event = apiEvent('POST', '/api/create_agent_auth_profile', { body: body ?? {} });
    return invoke(probe, { ...event, headers: { ...event.headers, ...headers } });
  };

  it('resolves the tenant from a Bearer key', async () => {
    const res = await withHeaders({ authorization: `Bearer ${v.apiKey}` });

    expect(res.statusCode).toBe(200);
    expect(res.json.tenant).toBe(TENANT);
  });

  it('resolves the tenant from an X-Api-Key header', async () => {
    const res = await withHeaders({ 'x-api-key': v.apiKey });

    expect(res.statusCode).toBe(200);
    expect(res.json.tenant).toBe(TENANT);
  });

  it('resolves the tenant from the body field api_key', async () => {
    const res = await withHeaders({}, { api_key: v.apiKey });

    expect(res.statusCode).toBe(200);
    expect(res.json.tenant).toBe(TENANT);
  });

  it('answers 401 unauthorized when no key is sent', async () => {
    const res = await withHeaders({});

    expect(res.statusCode).toBe(401);
    expect(res.json.error.code).toBe('unauthorized');
    expect(res.json.error.message).toMatch(/Bearer|X-Api-Key/);
  });

  it.each([['avk_short'], ['not-a-key'], [`avk_${'!'.repeat(43)}`], [`${newApiKey()}x`]])(
    'answers 401 for the malformed key %s without a lookup',
    async (key) => {
      const res = await withHeaders({ 'x-api-key': key });

      expect(res.statusCode).toBe(401);
      expect(res.json.error.code).toBe('unauthorized');
      expect(v.ddb).not.toHaveReceivedCommand(GetCommand);
    },
  );

  it('answers 401 for a well-formed key that no tenant owns, without echoing it', async () => {
    const unknown = newApiKey();

    const res = await withHeaders({ authorization: `Bearer ${unknown}` });

    expect(res.statusCode).toBe(401);
    expect(res.json.error.code).toBe('unauthorized');
    expect(res.text).not.toContain(unknown);
    expect(v.ddb).toHaveReceivedCommandTimes(GetCommand, 1);
  });

  it('says a malformed key is malformed (the format is public), without a table read or echoing it', async () => {
    const malformed = await withHeaders({ 'x-api-key': 'avk_short' });
    const unknown = await withHeaders({ 'x-api-key': newApiKey() });

    expect(malformed.statusCode).toBe(401);
    expect(malformed.json.error).toEqual({ code: 'unauthorized', message: expect.stringMatching(/^Malformed API key: an API key is "avk_" followed by 43 base64url characters/) });
    expect(malformed.text).not.toContain('avk_short');
    expect(unknown.json.error).toEqual({ code: 'unauthorized', message: expect.stringMatching(/^Invalid API key/) });
    expect(v.ddb).toHaveReceivedCommandTimes(GetCommand, 1); // the unknown key's lookup only
  });

  it('answers 401 for an Authorization header of another scheme', async () => {
    const res = await withHeaders({ authorization: `Basic ${Buffer.from(`u:${v.apiKey}`).toString('base64')}` });

    expect(res.statusCode).toBe(401);
  });
});

describe('errorResponses', () => {
  const failing = (err: unknown) =>
    middy<VaultEvent, APIGatewayProxyResultV2>()
      .use(errorResponses(async () => v.deps.log))
      .handler(async () => {
        throw err;
      });

  it('keeps the status, code, message and headers of an HttpError', async () => {
    const res = await invoke(failing(new MethodNotAllowedError('PATCH', '/v1/agents', ['GET', 'POST'])), apiEvent('PATCH', '/v1/agents'));

    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('GET, POST');
    expect(res.json).toEqual({ error: { code: 'method_not_allowed', message: expect.stringContaining('GET or POST') } });
  });

  it('answers JSON that is never cached and carries the request id', async () => {
    const event = apiEvent('GET', '/v1/agents');

    const res = await invoke(failing(new NotFoundError('nope')), event);

    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-request-id']).toBe(event.requestContext.requestId);
  });

  it('answers 500 internal_error for a thrown non-Error value', async () => {
    const res = await invoke(failing('canary-string-thrown'), apiEvent('GET', '/v1/agents'));

    expect(res.statusCode).toBe(500);
    expect(res.json.error.code).toBe('internal_error');
    expect(res.text).not.toContain('canary-string-thrown');
  });

  it('answers 500 without internals when the dependencies cannot be built', async () => {
    const broken = middy<VaultEvent, APIGatewayProxyResultV2>()
      .use(errorResponses(() => Promise.reject(new Error('no deps canary-deps'))))
      .handler(async () => {
        throw new Error('canary-handler-failure');
      });
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      stderr.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    let res: Awaited<ReturnType<typeof invoke>>;
    try {
      res = await invoke(broken, apiEvent('GET', '/v1/agents'));
    } finally {
      process.stderr.write = write;
    }

    expect(res.statusCode).toBe(500);
    expect(res.text).not.toContain('canary');
    expect(stderr.join('')).toContain('unhandled error');
    expect(stderr.join('')).not.toContain('canary-handler-failure');
  });
});
