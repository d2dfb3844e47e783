import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AddressServer, startAddressServer } from '#test/support/address-server';
import type { TlsCall } from '#test/support/outbound-calls';

/**
 * Kept-alive TLS connections of the outbound client (shared/outbound/http-client.ts; docs/architecture.md,
 * "The credential gate") are keyed like plain ones: host and port, the pinned address and the
 * connection scope. Two loopback HTTPS servers on one port (127.0.0.1 and 127.0.0.2) serve a
 * certificate made here with openssl for `tls.test` and both addresses; the calls run in a child
 * process that trusts it (test/support/outbound-calls.ts), with certificate checks on.
 */

const ROOT = join(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'vault-tls-'));
const certFile = join(dir, 'cert.pem');

/** Runs the calls in one child process (one pool) that trusts the test certificate (unless `trust` is false). */
function runCalls(calls: TlsCall[], trust = true): Promise<string[]> {
  const preload = join(ROOT, 'test/support/no-network-preload.ts');
  const script = join(ROOT, 'test/support/outbound-calls.ts');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--import', preload, script, JSON.stringify(calls)],
      { cwd: ROOT, env: { ...process.env, NODE_EXTRA_CA_CERTS: trust ? certFile : '' }, timeout: 30_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as string[])),
    );
  });
}

let first: AddressServer;
let second: AddressServer;
let port: number;

beforeAll(async () => {
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=tls.test',
      '-addext',
      'subjectAltName=DNS:tls.test,IP:127.0.0.1,IP:127.0.0.2',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  const key = readFileSync(keyFile);
  const cert = readFileSync(certFile);
  first = await startAddressServer('127.0.0.1', 0, { key, cert });
  port = first.port;
  second = await startAddressServer('127.0.0.2', port, { key, cert });
});

afterAll(async () => {
  for (const s of [first, second]) {
    if (!s) continue;
    await s.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('sendOutbound over TLS', () => {
  it('reuses one TLS connection per pinned address and scope, and opens another for another scope or address', async () => {
    const url = `https://tls.test:${port}/`;
    const call = (scope: string, address = '127.0.0.1'): TlsCall => ({ url, address, scope });

    const answers = await runCalls([
      call('profile-a'),
      call('profile-a'),
      call('profile-b'),
      // The name now resolves to the other address: the guard pinned 127.0.0.2, so not over a's open connection.
      call('profile-a', '127.0.0.2'),
      call('profile-a'),
      call('profile-b'),
    ]);

    expect(answers).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.1', '127.0.0.1']);
    // 127.0.0.1: profile-a's connection (0) three times, profile-b's (1) twice.
    expect(first.requests).toEqual([0, 0, 1, 0, 1]);
    expect(first.connections).toHaveLength(2);
    expect(second.requests).toEqual([0]);
    expect(second.connections).toHaveLength(1);
  });

  it('checks the certificate: a client that does not trust it gets no answer', async () => {
    const before = first.requests.length;

    const answers = await runCalls([{ url: `https://tls.test:${port}/`, address: '127.0.0.1', scope: 'untrusting' }], false);

    expect(answers).toEqual([expect.stringMatching(/^failed: unreachable/)]);
    expect(first.requests).toHaveLength(before);
  });
});
