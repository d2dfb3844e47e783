import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConditionalCheckFailedException, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '#infra/local/embedded-dynamo';
import { startLocalVault } from '#infra/local/server';
import { ensureTable } from '#infra/local/table';
import { silentLogger } from '#shared/log';
import { createDb, EMBEDDED_IN_PROCESS_UNUSED_MIDDLEWARE, EMBEDDED_UNUSED_MIDDLEWARE, type StoreRequestHandler } from '#shared/clients';

// The store client's per-call work (docs/operations.md, "The goals and the summary").
describe('createDb: no per-call work that serves nothing', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it('drops the SDK logger middleware (it filters every input and output for a logger the vault never sets)', () => {
    for (const db of [
      createDb({ region: 'local', tableName: 't', dynamoEndpoint: 'http://127.0.0.1:9' }),
      createDb({ region: 'us-east-1', tableName: 't' }),
    ]) {
      expect(db.client.middlewareStack.identify().some((m) => m.startsWith('loggerMiddleware'))).toBe(false);
      db.client.destroy();
    }
  });

  it('drops the header-building middleware the in-process embedded store never reads, and only there', async () => {
    const store = await openEmbeddedStore({});
    cleanup.push(() => store.close());
    const inProcess = createDb({ region: 'local', tableName: 't', storeHandler: store.handler });
    const socket = createDb({ region: 'local', tableName: 't', storeSocket: store.socketPath });
    const aws = createDb({ region: 'us-east-1', tableName: 't' });
    const has = (db: typeof aws, name: string) => db.client.middlewareStack.identify().some((m) => m.startsWith(name));
    for (const name of EMBEDDED_UNUSED_MIDDLEWARE) {
      expect(has(inProcess, name)).toBe(false);
      expect(has(socket, name)).toBe(true);
      expect(has(aws, name)).toBe(true);
    }
    await expect(inProcess.client.send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: [] });
    for (const db of [inProcess, socket, aws]) db.client.destroy();
  });

  it('in process: one attempt per call and the fixed header, without the retry and signing middleware (the socket and AWS keep both)', async () => {
    const seen: Record<string, string>[] = [];
    // A store fault the SDK's standard strategy retries (a 500): in process it would fail again.
    const handler: StoreRequestHandler = {
      async handle(request) {
        seen.push({ ...request.headers });
        const body = Buffer.from(
          JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'store fault' }),
        );
        return { response: { statusCode: 500, headers: { 'content-type': 'application/x-amz-json-1.0' }, body } };
      },
    };
    const inProcess = createDb({ region: 'local', tableName: 't', storeHandler: handler });
    cleanup.push(() => inProcess.client.destroy());
    await expect(inProcess.client.send(new ListTablesCommand({}))).rejects.toMatchObject({ name: 'InternalServerError' });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=local\/.*Signature=0$/);
    expect(seen[0]?.['x-amz-date']).toBe('19700101T000000Z');
    const has = (db: typeof inProcess, name: string) => db.client.middlewareStack.identify().some((m) => m.startsWith(name));
    const socket = createDb({ region: 'local', tableName: 't', storeSocket: '/nonexistent/s.sock' });
    const aws = createDb({ region: 'us-east-1', tableName: 't' });
    cleanup.push(
      () => socket.client.destroy(),
      () => aws.client.destroy(),
    );
    for (const name of EMBEDDED_IN_PROCESS_UNUSED_MIDDLEWARE) {
      expect(has(inProcess, name)).toBe(false);
      expect(has(socket, name)).toBe(true);
      expect(has(aws, name)).toBe(true);
    }
  });

  it('sends the embedded store a fixed header instead of computing a SigV4 signature per call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'av-store-client-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{"TableNames":[]}');
    });
    const socket = join(dir, 's.sock');
    await new Promise<void>((r) => server.listen(socket, r));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const db = createDb({ region: 'local', tableName: 't', storeSocket: socket });
    cleanup.push(() => db.client.destroy());
    await db.client.send(new ListTablesCommand({}));
    await db.client.send(new ListTablesCommand({ Limit: 5 }));
    expect(seen).toHaveLength(2);
    // A computed signature would cover the body and the time: two calls would differ.
    expect(seen[0]?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=local\/.*Signature=0$/);
    expect(seen[1]?.authorization).toBe(seen[0]?.authorization);
  });

  it('the embedded store accepts that header', async () => {
    const store = await openEmbeddedStore({});
    cleanup.push(() => store.close());
    const db = createDb({ region: 'local', tableName: 't', storeSocket: store.socketPath });
    cleanup.push(() => db.client.destroy());
    await expect(db.client.send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: [] });
  });

  it('a store reached by endpoint (DynamoDB Local, AWS) still gets a real signature', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'av-store-client-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{"TableNames":[]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const { port } = server.address() as { port: number };
    const db = createDb({ region: 'local', tableName: 't', dynamoEndpoint: `http://127.0.0.1:${port}` });
    cleanup.push(() => db.client.destroy());
    await db.client.send(new ListTablesCommand({}));
    expect(seen[0]?.authorization).toMatch(/Signature=[0-9a-f]{64}$/);
  });

  it('reaches the embedded store in process (no socket): items, binary attributes and refusals as over the socket', async () => {
    const store = await openEmbeddedStore({});
    cleanup.push(() => store.close());
    const db = createDb({ region: 'local', tableName: 'tbl', storeSocket: store.socketPath, storeHandler: store.handler });
    cleanup.push(() => db.client.destroy());
    await ensureTable(db.client, 'tbl');
    rmSync(store.socketPath); // nothing may go through the socket from here on
    const item = { pk: 'P', sk: 'S', n: 7, b: Buffer.from([0, 1, 255]), s: 'é ✓' };
    await db.doc.send(new PutCommand({ TableName: 'tbl', Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
    const got = await db.doc.send(new GetCommand({ TableName: 'tbl', Key: { pk: 'P', sk: 'S' }, ConsistentRead: true }));
    expect(got.Item).toEqual({ ...item, b: new Uint8Array([0, 1, 255]) });
    await expect(
      db.doc.send(new PutCommand({ TableName: 'tbl', Item: item, ConditionExpression: 'attribute_not_exists(pk)' })),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });

  it('the local server uses it: it keeps serving with its socket file gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'av-store-client-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const apiKey = `avk_${'k'.repeat(43)}`;
    const vault = await startLocalVault({
      env: { PORT: '0', VAULT_DATA_DIR: join(dir, 'data'), VAULT_BOOTSTRAP_API_KEY: apiKey, VAULT_BOOTSTRAP_TENANT: 'acme' },
      inMemory: true,
      log: silentLogger,
    });
    cleanup.push(() => vault.close());
    rmSync(vault.storeSocket as string);
    // In parallel: more store calls at once than the connections a socket client would hold open.
    const statuses = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const res = await fetch(`${vault.url}/v1/agents`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            agent_id: `a${i}`,
            name: `a${i}`,
            input_args: [],
            runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
          }),
        });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    expect(statuses).toEqual(Array(12).fill(201));
  });
});
