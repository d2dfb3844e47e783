import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { openEmbeddedStore, startStoreThread } from '#infra/local/embedded-dynamo';
import { ensureTable } from '#infra/local/table';
import { createDb, type StoreRequestHandler } from '#shared/clients';

/** One DynamoDB call sent straight to the store's handler, as the SDK's request handler sends it (no SigV4: infra/local/embedded-dynamo.ts). */
const storeCall = (handler: StoreRequestHandler, target: string, body: string) =>
  handler.handle({
    method: 'POST',
    path: '/',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `DynamoDB_20120810.${target}`,
      authorization: 'AWS4-HMAC-SHA256 Credential=local/19700101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      'x-amz-date': '19700101T000000Z',
    },
    body: new TextEncoder().encode(body),
  });

// The embedded store's own thread (infra/local/embedded-dynamo.ts, openEmbeddedStore; docs/architecture.md, "Local mode").
describe('the embedded store runs in a thread of its own', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'av-embedded-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };

  it('is not the caller’s thread', async () => {
    const store = await openEmbeddedStore({});
    cleanup.push(() => store.close());
    expect(store.threadId).toBeGreaterThan(0);
    expect(store.threadId).not.toBe(threadId);
  });

  it('keeps every answered write across close and reopen, including writes in flight when close is called', async () => {
    const dataDir = join(tempDir(), 'data');
    const first = await openEmbeddedStore({ dataDir });
    const db = createDb({ region: 'local', tableName: 'tbl', storeHandler: first.handler });
    await ensureTable(db.client, 'tbl');
    const put = (i: number) => db.doc.send(new PutCommand({ TableName: 'tbl', Item: { pk: `P${i}`, sk: 'S', n: i, b: Buffer.from([i]) } }));
    for (let i = 0; i < 20; i++) await put(i);
    // Posted to the thread before its close message: taken, answered and kept.
    const raw = (i: number) =>
      storeCall(
        first.handler,
        'PutItem',
        JSON.stringify({
          TableName: 'tbl',
          Item: { pk: { S: `P${i}` }, sk: { S: 'S' }, n: { N: String(i) }, b: { B: Buffer.from([i]).toString('base64') } },
        }),
      );
    const posted = Array.from({ length: 20 }, (_, i) => raw(20 + i));
    // Still inside the SDK's middleware when close is called: answered (then kept) or refused, never lost silently.
    // (Settled from the start: the in-process client does not retry, so a refusal comes at once.)
    const viaSdk = Promise.allSettled(Array.from({ length: 10 }, (_, i) => put(40 + i)));
    await first.close();
    expect((await Promise.all(posted)).map((a) => a.response.statusCode)).toEqual(Array(20).fill(200));
    const settled = await viaSdk;
    db.client.destroy();
    const answered = [...Array(40).keys()].concat(settled.flatMap((s, i) => (s.status === 'fulfilled' ? [40 + i] : [])));

    const second = await openEmbeddedStore({ dataDir });
    cleanup.push(() => second.close());
    const again = createDb({ region: 'local', tableName: 'tbl', storeHandler: second.handler });
    cleanup.push(() => again.client.destroy());
    for (const i of answered) {
      const got = await again.doc.send(new GetCommand({ TableName: 'tbl', Key: { pk: `P${i}`, sk: 'S' }, ConsistentRead: true }));
      expect(got.Item).toEqual({ pk: `P${i}`, sk: 'S', n: i, b: new Uint8Array([i]) });
    }
  });

  it('answers every request taken before close, a conditional write (a read, then a put) included, and keeps it', async () => {
    // dynalite's own shutdown waits only for the database operations pending at that moment; a
    // conditional put is a read and then a write, so a close between the two failed the request
    // (infra/local/store-thread.js waits for every request it has taken instead).
    const dataDir = join(tempDir(), 'data');
    const first = await openEmbeddedStore({ dataDir });
    const db = createDb({ region: 'local', tableName: 'tbl', storeHandler: first.handler });
    await ensureTable(db.client, 'tbl');
    db.client.destroy();
    const conditionalPut = (i: number) =>
      storeCall(
        first.handler,
        'PutItem',
        JSON.stringify({ TableName: 'tbl', Item: { pk: { S: `C${i}` }, sk: { S: 'S' } }, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
    const posted = Array.from({ length: 300 }, (_, i) => conditionalPut(i));
    await first.close();
    const answers = await Promise.all(posted);
    expect(answers.filter((a) => a.response.statusCode !== 200).length).toBe(0);

    const second = await openEmbeddedStore({ dataDir });
    cleanup.push(() => second.close());
    const again = createDb({ region: 'local', tableName: 'tbl', storeHandler: second.handler });
    cleanup.push(() => again.client.destroy());
    for (let i = 0; i < 300; i++) {
      const got = await again.doc.send(new GetCommand({ TableName: 'tbl', Key: { pk: `C${i}`, sk: 'S' }, ConsistentRead: true }));
      expect(got.Item).toEqual({ pk: `C${i}`, sk: 'S' });
    }
  });

  it('refuses a request that comes after close with an error answer, never a silent loss', async () => {
    const first = await openEmbeddedStore({});
    const db = createDb({ region: 'local', tableName: 'tbl', storeHandler: first.handler });
    await ensureTable(db.client, 'tbl');
    db.client.destroy();
    const list = () => storeCall(first.handler, 'ListTables', '{}');
    const before = list();
    const closing = first.close();
    const after = list();
    expect((await before).response.statusCode).toBe(200);
    const late = await after.then(
      (a) => ({ status: a.response.statusCode, body: Buffer.from(a.response.body as Uint8Array).toString('utf8') }),
      (err: Error) => ({ status: 0, body: err.message }),
    );
    expect(late.status).not.toBe(200);
    expect(late.body).toMatch(/closing|ended/);
    await closing;
  });

  it('sends the calls made in one turn of the event loop in one message, each answered with its own answer', async () => {
    const store = startStoreThread({ socketPath: join(tempDir(), 's.sock') });
    cleanup.push(() => store.close());
    await store.ready;
    const db = createDb({ region: 'local', tableName: 'tbl', storeHandler: store.handler });
    cleanup.push(() => db.client.destroy());
    await ensureTable(db.client, 'tbl');
    const post = store.thread.postMessage.bind(store.thread);
    const messages: unknown[] = [];
    store.thread.postMessage = (message: unknown, transfer?: Parameters<typeof post>[1]) => {
      messages.push(message);
      post(message, transfer);
    };
    const put = (i: number) =>
      storeCall(
        store.handler,
        'PutItem',
        JSON.stringify({ TableName: 'tbl', Item: { pk: { S: `B${i}` }, sk: { S: 'S' }, n: { N: String(i) } } }),
      );
    const get = (i: number) =>
      storeCall(
        store.handler,
        'GetItem',
        JSON.stringify({ TableName: 'tbl', Key: { pk: { S: `B${i}` }, sk: { S: 'S' } }, ConsistentRead: true }),
      );
    const puts = await Promise.all([0, 1, 2, 3, 4].map(put));
    expect(puts.map((a) => a.response.statusCode)).toEqual(Array(5).fill(200));
    expect(messages).toHaveLength(1);
    expect((messages[0] as [string, unknown[]])[1]).toHaveLength(5);
    const got = await Promise.all([4, 2, 0, 3, 1].map(get));
    expect(got.map((a) => JSON.parse(Buffer.from(a.response.body).toString('utf8')).Item.n.N)).toEqual(['4', '2', '0', '3', '1']);
    expect(messages).toHaveLength(2);
  });

  it('refuses calls once its thread has ended, instead of leaving them pending', async () => {
    const dir = tempDir();
    const store = startStoreThread({ socketPath: join(dir, 's.sock') });
    await store.ready;
    const db = createDb({ region: 'local', tableName: 'tbl', storeHandler: store.handler });
    cleanup.push(() => db.client.destroy());
    const call = db.client.send(new ListTablesCommand({}));
    await store.thread.terminate();
    // Answered before the thread stopped, or refused: settled either way.
    await expect(
      call.then(
        () => 'answered',
        () => 'refused',
      ),
    ).resolves.toMatch(/answered|refused/);
    await expect(store.handler.handle({ method: 'POST', path: '/', headers: {}, body: '{}' })).rejects.toThrow(
      /embedded store thread ended/,
    );
    await store.close(); // after a failure: returns without waiting on a thread that is gone
  });
});
