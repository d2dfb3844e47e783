import dns from 'node:dns';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { dynamoDbLocalCommand } from '#test/support/dynamodb-local';
import { isOnMachine } from '#test/support/network-guard';
import { startEchoUpstream } from '#test/support/upstream';

/**
 * The test network guard (test/support/network-guard.ts, installed by vitest.config.ts
 * setupFiles) refuses, synchronously or as a rejection, before any packet or DNS query: nothing
 * here reaches the network, whatever the machine's connectivity.
 */
/** Installed by the setup file before this file ran; without it the refusal tests below would reach the network, so they do not run. */
const installed = (globalThis as Record<symbol, unknown>)[Symbol.for('agent-vault.test.networkGuard')] === true;

it('the network guard is installed in every test worker (vitest.config.ts setupFiles)', () => {
  expect(installed).toBe(true);
});

describe.runIf(installed)('the test network guard', () => {
  it('refuses a fetch of example.com', async () => {
    await expect(fetch('http://example.com/')).rejects.toMatchObject({ cause: { code: 'ERR_TEST_OFF_MACHINE' } });
  });

  it('refuses a DNS lookup of example.com (promise form)', async () => {
    await expect(lookup('example.com')).rejects.toMatchObject({ code: 'ERR_TEST_OFF_MACHINE' });
  });

  it('refuses a DNS lookup of example.com (callback form)', () => {
    expect(() => dns.lookup('example.com', () => undefined)).toThrow(/would leave this machine/);
  });

  it('refuses a DNS query to a server for example.com', () => {
    expect(() => dns.resolve4('example.com', () => undefined)).toThrow(/would leave this machine/);
    expect(() => new dns.Resolver().resolve4('example.com', () => undefined)).toThrow(/would leave this machine/);
  });

  it('refuses a TCP connection to a public address', () => {
    expect(() => net.connect(443, '93.184.215.14')).toThrow(/would leave this machine/);
  });

  it('refuses a TLS connection to example.com', () => {
    expect(() => tls.connect(443, 'example.com')).toThrow(/would leave this machine/);
  });

  it('refuses a name whose custom lookup answers with a public address', async () => {
    const socket = net.connect({ host: 'upstream.test', port: 80, lookup: (_h, _o, cb) => (cb as (e: null, a: string, f: number) => void)(null, '93.184.215.14', 4) });
    await expect(new Promise((_resolve, reject) => socket.once('error', reject))).rejects.toMatchObject({ code: 'ERR_TEST_OFF_MACHINE' });
  });

  it('refuses a numeric host name that parses to a public address', async () => {
    const socket = net.connect({ host: '134744072', port: 80 }); // 8.8.8.8
    await expect(new Promise((_resolve, reject) => socket.once('error', reject))).rejects.toMatchObject({ code: 'ERR_TEST_OFF_MACHINE' });
  });

  it('lets a request to a loopback server through', async () => {
    const upstream = await startEchoUpstream();
    try {
      expect((await fetch(`${upstream.url}/`)).status).toBe(200);
    } finally {
      await upstream.close();
    }
  });

  it('counts loopback and unspecified addresses as on the machine, public ones not', () => {
    expect(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', '0.0.0.0', '[::1]'].map(isOnMachine)).toEqual([true, true, true, true, true, true]);
    expect(['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c', '::ffff:8.8.8.8'].map(isOnMachine)).toEqual([false, false, false]);
  });
});

describe('DynamoDB Local', () => {
  it('is started with -disableTelemetry, in memory, on the port given', () => {
    const { command, args } = dynamoDbLocalCommand(8123);
    expect(command).toBe('java');
    expect(args).toContain('-disableTelemetry');
    expect(args.slice(-4)).toEqual(['-inMemory', '-port', '8123', '-disableTelemetry']);
    expect(args[0]).toMatch(/^-Djava\.library\.path=.*DynamoDBLocal_lib$/);
    expect(args.slice(1, 3)).toEqual(['-jar', expect.stringMatching(/DynamoDBLocal\.jar$/)]);
  });
});
