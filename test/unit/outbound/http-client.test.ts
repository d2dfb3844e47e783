import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_IDLE_MS, type OutboundCall, sendOutbound } from '#shared/outbound/http-client';
import { startAddressServer as startServer } from '#test/support/address-server';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const get = (url: string, over: Partial<OutboundCall> = {}) =>
  sendOutbound({ url: new URL(url), method: 'GET', headers: {}, timeoutMs: 5_000, maxResponseBytes: 1024, allowPrivate: true, ...over });

const bodyOf = (r: Awaited<ReturnType<typeof sendOutbound>>) => (r.ok ? r.body.toString('utf8') : `failed: ${r.reason}`);

describe('sendOutbound connection reuse', () => {
  it('reuses a kept-alive connection for requests to the same pinned address and scope', async () => {
    const s = await startServer('127.0.0.1');
    servers.push(s);

    for (let i = 0; i < 3; i++) expect(bodyOf(await get(`http://127.0.0.1:${s.port}/`, { connectionScope: 'profile-a' }))).toBe('127.0.0.1');

    expect(s.connections).toHaveLength(1);
  });

  it('never sends a request over a connection opened to another pinned address of the same host name', async () => {
    // Two servers on one port at two loopback addresses; the name first resolves to one, then to the other.
    const first = await startServer('127.0.0.1');
    servers.push(first);
    const second = await startServer('127.0.0.2', first.port);
    servers.push(second);
    let answer = '127.0.0.1';
    const resolveHost = async () => [{ address: answer, family: 4 }];
    const url = `http://rebinding.test:${first.port}/`;

    expect(bodyOf(await get(url, { resolveHost, connectionScope: 'p' }))).toBe('127.0.0.1');
    answer = '127.0.0.2';
    const afterRebind = await get(url, { resolveHost, connectionScope: 'p' });

    // The guard checked 127.0.0.2 for this request: it goes there, not over the open connection to 127.0.0.1.
    expect(bodyOf(afterRebind)).toBe('127.0.0.2');
    expect(first.connections).toHaveLength(1);
    expect(second.connections).toHaveLength(1);
  });

  it('keeps the connections of different scopes apart', async () => {
    const s = await startServer('127.0.0.1');
    servers.push(s);
    const url = `http://127.0.0.1:${s.port}/`;

    await get(url, { connectionScope: 'tenant-a|agent|slot-1' });
    await get(url, { connectionScope: 'tenant-b|agent|slot-1' });
    await get(url, { connectionScope: 'tenant-a|agent|slot-1' });

    expect(s.connections).toHaveLength(2);
  });

  it('does not reuse a connection that sat idle longer than MAX_IDLE_MS by the wall clock (a thawed Lambda environment)', async () => {
    const s = await startServer('127.0.0.1');
    servers.push(s);
    const url = `http://127.0.0.1:${s.port}/`;
    await get(url, { connectionScope: 'idle' });
    const realNow = Date.now;
    // No timer ran meanwhile (as in a frozen environment): only the wall clock moved.
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + MAX_IDLE_MS + 1_000);

    expect(bodyOf(await get(url, { connectionScope: 'idle' }))).toBe('127.0.0.1');

    expect(s.connections).toHaveLength(2);
    // The stale one was closed, not left behind.
    await vi.waitFor(() => expect(s.connections[0]?.destroyed).toBe(true));
  });

  it('still refuses a blocked IP literal without private targets allowed', async () => {
    const r = await get('http://127.0.0.1:9/', { allowPrivate: false });

    expect(r).toEqual({ ok: false, reason: 'blocked', message: expect.stringContaining('loopback, private or link-local') });
  });
});
