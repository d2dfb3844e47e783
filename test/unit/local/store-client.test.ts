import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '#infra/local/embedded-dynamo';
import { createDb } from '#shared/clients';

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
});
