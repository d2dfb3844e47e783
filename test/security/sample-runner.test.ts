import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, signPayload } from '#shared/runs/signature';
import { freePort } from '#test/support/net';

const TSX = 'node_modules/.bin/tsx';
const SECRET = 'avs_sample-runner-test';

let runner: ChildProcess;
let port: number;
let stdout = '';

beforeAll(async () => {
  port = await freePort();
  runner = spawn(TSX, ['infra/local/sample-runner.ts'], {
    env: { ...process.env, RUNNER_SIGNING_SECRET: SECRET, RUNNER_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  runner.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  for (let i = 0; i < 150 && !stdout.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
  expect(stdout).toContain('listening');
}, 30_000);

afterAll(() => {
  runner?.kill();
});

describe('the sample runner', () => {
  it('answers with field names only: no hash or fingerprint of the credential values', async () => {
    const parameters = { password: '1234', username: 'bob' };
    const body = JSON.stringify({ session_id: 's-1', agent_id: 'crm-bot', parameters, session: null });
    const res = await fetch(`http://127.0.0.1:${port}/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(SECRET, body, Math.floor(Date.now() / 1000)) },
      body,
    });
    const answer = (await res.json()) as { output: Record<string, unknown> };

    expect(res.status).toBe(200);
    expect(answer.output).toEqual({ received_fields: ['password', 'username'], runs: 1 });
    // A short hash of weak values is enough to test guesses offline: nothing hex-like anywhere.
    const hash = createHash('sha256').update(JSON.stringify([['password', '1234'], ['username', 'bob']])).digest('hex');
    for (const text of [JSON.stringify(answer), stdout]) {
      expect(text).not.toContain(hash.slice(0, 8));
      expect(text).not.toMatch(/[0-9a-f]{10,}/);
    }
  });
});
