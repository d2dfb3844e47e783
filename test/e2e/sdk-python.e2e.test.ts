import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '#test/support/net';
import { newApiKey, startTestVault, type TestVault } from '#test/support/vault';

/**
 * The Python SDK's tests (clients/python/tests), run by `python3 -m unittest` against the local
 * server: its unit tests (retries, Retry-After, errors, signatures, the runner handler, over
 * loopback servers) and its live tests (every operation of GET /openapi.json through the client,
 * runs through runners made of the SDK's RunnerHandler; retries after a real 429 + Retry-After
 * from a second vault with a tenant rate limit). This test fails with unittest's output
 * when a Python test fails, errors or is skipped (a skipped live test means it never saw the vault).
 *
 * The network guard of this process (test/support/network-guard.ts) does not reach the child:
 * the Python tests install their own loopback-only guard (clients/python/tests/_support.py), and
 * the child gets no proxy variables, so nothing it sends leaves the machine.
 */

let vault: TestVault;
/**
 * A second vault with a tenant rate limit of 2 requests per second (429 + Retry-After for the
 * retry tests), as its own `infra/local/server.ts` process: the local server's dependencies are
 * one per process.
 */
let limited: { url: string; apiKey: string; child: ChildProcess; dataDir: string } | undefined;

async function startLimitedVault(): Promise<NonNullable<typeof limited>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'av-sdk-python-'));
  const apiKey = newApiKey();
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    PORT: String(await freePort()),
    VAULT_DATA_DIR: dataDir,
    VAULT_BOOTSTRAP_API_KEY: apiKey,
    VAULT_TENANT_RATE_LIMIT: '2',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/server.ts'], {
    cwd: process.cwd(),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the rate-limited vault did not start within 30 s:\n${output}`)), 30_000);
    const poll = setInterval(() => {
      const m = /agent-vault listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`the rate-limited vault exited ${code}:\n${output}`));
    });
  });
  return { url, apiKey, child, dataDir };
}

beforeAll(async () => {
  [vault, limited] = await Promise.all([startTestVault(), startLimitedVault()]);
});

afterAll(async () => {
  await vault?.deps.dispatcher.drain();
  await vault?.close();
  if (limited) {
    const { child, dataDir } = limited;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
});

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs python3 without blocking this process's event loop (the vault under test lives in it). */
function python(args: readonly string[], env: Record<string, string>, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', args, { cwd: process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`python3 could not be started (${err.message}); the Python SDK's tests need python3 ≥ 3.9 on PATH`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** unittest's closing lines: "Ran N tests in …s", then "OK", "OK (skipped=1)" or "FAILED (failures=1, errors=2)". */
function unittestSummary(output: string): {
  ran: number;
  ok: boolean;
  failures: number;
  errors: number;
  skipped: number;
  expectedFailures: number;
} {
  const ran = /^Ran (\d+) tests? in /m.exec(output);
  const verdict = /^(OK|FAILED)(?: \(([^)]*)\))?\s*$/m.exec(output.slice(ran?.index ?? 0));
  const counts: Record<string, number> = {};
  for (const part of (verdict?.[2] ?? '').split(',')) {
    const [key, value] = part.trim().split('=');
    if (key && value) counts[key] = Number(value);
  }
  return {
    ran: ran ? Number(ran[1]) : 0,
    ok: verdict?.[1] === 'OK',
    failures: counts.failures ?? 0,
    errors: counts.errors ?? 0,
    skipped: counts.skipped ?? 0,
    expectedFailures: counts['expected failures'] ?? 0,
  };
}

describe('Python SDK (clients/python)', () => {
  it('reads unittest summaries', () => {
    expect(unittestSummary('...\n----\nRan 12 tests in 1.2s\n\nOK\n')).toMatchObject({
      ran: 12,
      ok: true,
      failures: 0,
      errors: 0,
      skipped: 0,
    });
    expect(unittestSummary('Ran 3 tests in 0.1s\n\nOK (skipped=2)\n')).toMatchObject({ ran: 3, ok: true, skipped: 2 });
    expect(unittestSummary('Ran 9 tests in 3s\n\nFAILED (failures=1, errors=2, skipped=1)\n')).toMatchObject({
      ran: 9,
      ok: false,
      failures: 1,
      errors: 2,
      skipped: 1,
    });
    expect(unittestSummary('Traceback …\nImportError')).toMatchObject({ ran: 0, ok: false });
  });

  it('passes every Python test, the live ones against the local server', async () => {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      LANG: 'C.UTF-8',
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONUNBUFFERED: '1',
      AGENT_VAULT_URL: vault.url,
      AGENT_VAULT_API_KEY: vault.apiKey,
      AGENT_VAULT_LIMITED_URL: limited?.url ?? '',
      AGENT_VAULT_LIMITED_API_KEY: limited?.apiKey ?? '',
    };

    const out = await python(['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-v'], env, 150_000);

    const log = `python3 exited ${out.code}\n--- stderr\n${out.stderr}\n--- stdout\n${out.stdout}`;
    const summary = unittestSummary(out.stderr);
    expect(summary.ran, log).toBeGreaterThan(0);
    expect({ code: out.code, ok: summary.ok, failures: summary.failures, errors: summary.errors, skipped: summary.skipped }, log).toEqual({
      code: 0,
      ok: true,
      failures: 0,
      errors: 0,
      skipped: 0,
    });
    // The live tests ran against this vault (not skipped for want of AGENT_VAULT_URL). unittest -v names a
    // test "name (module.Class.name)" from Python 3.11 on, "name (module.Class)" before.
    expect(out.stderr.match(/\(test_live\.LiveVaultTests(?:\.\w+)?\)(?:\n.*)? \.\.\. ok$/gm)?.length ?? 0, log).toBeGreaterThanOrEqual(10);
  }, 180_000);
});
