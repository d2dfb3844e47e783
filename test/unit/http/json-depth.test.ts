import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { type VaultEvent, errorResponses, jsonBody } from '#shared/http/middleware';
import { MAX_JSON_DEPTH, jsonDepth } from '#shared/schemas/json-depth';
import { ok } from '#shared/http/responses';
import { silentLogger } from '#shared/log';

const nested = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;

describe('jsonDepth', () => {
  it('counts nested objects and arrays', () => {
    expect(jsonDepth('{}')).toBe(1);
    expect(jsonDepth('{"a":[{"b":[]}]}')).toBe(4);
    expect(jsonDepth(nested(100))).toBe(100);
  });

  it('ignores brackets inside strings, including after escaped quotes', () => {
    expect(jsonDepth('{"a":"[[[{{{"}')).toBe(1);
    expect(jsonDepth('{"a":"\\"[[[","b":"\\\\"}')).toBe(1);
  });
});

describe('jsonBody depth limit', () => {
  const handler = middy<VaultEvent, APIGatewayProxyResultV2>()
    .use(errorResponses(async () => silentLogger))
    .use(jsonBody())
    .handler(async (event) => ok({ parsed: event.json !== undefined }));
  const post = (body: string) =>
    handler(
      { routeKey: 'POST /x', rawPath: '/x', headers: { 'content-type': 'application/json' }, body, isBase64Encoded: false, requestContext: { requestId: 'r' } } as unknown as APIGatewayProxyEventV2,
      {} as never,
    ) as Promise<{ statusCode: number; body: string }>;

  it(`accepts a body nested ${MAX_JSON_DEPTH} levels deep`, async () => {
    const res = await post(`{"a":${nested(MAX_JSON_DEPTH - 1)}}`);
    expect(res.statusCode).toBe(200);
  });

  it('refuses a deeper body with 400 invalid_json naming the limit', async () => {
    const res = await post(`{"a":${nested(10_000)}}`);
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error).toMatchObject({ code: 'invalid_json', message: expect.stringContaining(`${MAX_JSON_DEPTH} levels`) });
  });
});
