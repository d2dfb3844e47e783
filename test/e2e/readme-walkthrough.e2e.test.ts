import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '#test/support/net';
import { startTestRunner } from '#test/support/runner';
import { startEchoUpstream } from '#test/support/upstream';
import { startTestVault } from '#test/support/vault';

/**
 * The walk-throughs, run as written: every ```sh block of the "Walk-through (curl)" section, in
 * order, by bash, against a fresh server (`npm start` from the walk-through itself) on a free port
 * and a temporary data folder — the full walk-through in docs/walkthrough.md, and the short one
 * (create → upsert → run_agent) in README.md. The only harness addition is `set -eo pipefail`, so
 * a block that fails stops the run as it would stop a reader.
 */
const README = readFileSync('README.md', 'utf8');
const WALKTHROUGH = readFileSync('docs/walkthrough.md', 'utf8');
const API = readFileSync('docs/api.md', 'utf8');

/** The ```sh blocks of a document's "## Walk-through (curl)" section, in order. */
function shBlocks(doc: string): string[] {
  const start = doc.indexOf('## Walk-through (curl)');
  if (start < 0) throw new Error('no "## Walk-through (curl)" section');
  const next = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

/** The full walk-through (docs/walkthrough.md). */
function walkthroughBlocks(): string[] {
  return shBlocks(WALKTHROUGH);
}

/** The README's short walk-through: create → upsert → run_agent and the run's status. */
function readmeBlocks(): string[] {
  return shBlocks(README);
}

/**
 * Runs `blocks` as written by bash against a fresh server: a temporary data folder and a free
 * port for PORT and each of `portVars` (the walk-through's runners and upstreams).
 */
async function runAsWritten(prefix: string, blocks: readonly string[], portVars: readonly string[], timeoutMs: number) {
  const root = mkdtempSync(join(tmpdir(), prefix));
  roots.push(root);
  const dataDir = join(root, 'data');
  const ports: Record<string, number> = {};
  for (const name of ['PORT', ...portVars]) ports[name] = await freePort();
  const env = Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)]));
  const out = await bash(`set -eo pipefail\n${blocks.join('\n')}`, { ...env, VAULT_DATA_DIR: dataDir }, timeoutMs);
  return { out, ports, dataDir, log: `exit ${out.code}\n--- stdout\n${out.stdout}\n--- stderr\n${out.stderr}` };
}

/** After a walk-through: its server stopped (it said so), nothing answers on `urls`, its data folder is gone. */
async function expectStoppedAndReset(run: Awaited<ReturnType<typeof runAsWritten>>, urls: readonly string[]) {
  for (const url of urls) await expect(fetch(url)).rejects.toThrow();
  expect(existsSync(run.dataDir)).toBe(false);
  expect(run.out.stdout).toMatch(/stopped agent-vault pid \d+ \(port \d+\)/);
}

/** The ```bash block of the "Run grants" section (docs/api.md): the call a runner makes with its grant. */
function runnerGrantBlock(): string {
  const start = API.indexOf('### Run grants');
  const end = API.indexOf('\n### ', start + 1);
  const blocks = [...API.slice(start, end).matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  const block = blocks.find((b) => b.includes('$GRANT'));
  if (!block) throw new Error('the Run grants section has no ```bash block using $GRANT');
  return block;
}

function bash(
  script: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so a hung run can be stopped with everything it started
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

describe('the full walk-through (docs/walkthrough.md)', () => {
  it('has the blocks it promises: start and wait, extractor, steps, stop and reset', () => {
    const all = walkthroughBlocks().join('\n');

    expect(all).toMatch(/until curl -sf \$VAULT\/healthz/);
    expect(all).toMatch(/field\(\) \{/);
    expect(all).toContain('curl -sS --fail-with-body');
    expect(all).toMatch(/^kill \$RUNNER_PID \$PROXY_RUNNER_PID \$ECHO_PID$/m);
    expect(all).toMatch(/^npm run -s stop$/m);
    expect(all).toMatch(/^rm -rf "\$\{VAULT_DATA_DIR:-\.data\}"$/m);
  });

  it('runs every shell block as written against a fresh server, and leaves nothing running', { timeout: 180_000 }, async () => {
    const run = await runAsWritten('av-readme-', walkthroughBlocks(), ['RUNNER_PORT', 'ECHO_PORT', 'PROXY_RUNNER_PORT'], 150_000);
    const { out, log } = run;

    expect(out.code, log).toBe(0);
    expect(out.stdout, log).toMatch(/avt_[A-Za-z0-9_-]{60,}/); // echo $TOKEN
    expect(out.stdout).toMatch(/"type":"update"/);
    expect(out.stdout).toMatch(/"received_fields":\["password","query","username"\]/);
    expect(out.stdout).toMatch(/"status":"succeeded"/);
    expect(out.stdout).toMatch(/"type":"replace"/);
    // (The server's own log lines share the terminal, so the body and its status may be split.)
    expect(out.stdout).toMatch(/"code":"profile_not_found"/);
    expect(out.stdout).toContain(' (HTTP 404)');
    expect(out.stdout).toMatch(/"generation":2/);
    expect(out.stdout).toMatch(/\\"saw\\":\\"\[REDACTED\]\\"/); // step 8: the proxied call, its echo redacted
    // step 9: the sample runner with a run grant, its call through the proxy, the echo redacted
    expect(out.stdout).toMatch(
      /"agent_output":\{"delivery":"proxy","upstream_status":200,"upstream_body":"\{\\"saw\\":\\"\[REDACTED\]\\"\}"/,
    );
    expect(out.stdout).toMatch(/signature ok, proxy delivery, GET 127\.0\.0\.1:\d+ → upstream 200/);
    expect(out.stdout + out.stderr).not.toContain('sk-mail-456');
    expect(out.stdout).toMatch(/"code":"host_not_allowed"/);
    // The wait loops' probes of the sample runners are not rejected runs.
    expect(out.stdout + out.stderr).not.toContain('rejected a request with a bad signature');
    expect(out.stdout).toContain(' (HTTP 403)');
    expect(out.stdout).toMatch(/"ok":true/);
    expect(out.stdout + out.stderr).not.toContain('n3w-s3cret');
    expect(out.stdout + out.stderr).not.toMatch(/NodeVersionSupportWarning|Database is closed/);
    // Stopped and reset: the ports no longer answer, the data folder is gone.
    const { PORT, RUNNER_PORT, ECHO_PORT, PROXY_RUNNER_PORT } = run.ports;
    await expectStoppedAndReset(run, [
      `http://127.0.0.1:${PORT}/healthz`,
      `http://127.0.0.1:${RUNNER_PORT}/run`,
      `http://127.0.0.1:${ECHO_PORT}/`,
      `http://127.0.0.1:${PROXY_RUNNER_PORT}/run`,
    ]);
  });

  it('has an extractor that prints an error answer and fails, and prints the field of a good one', async () => {
    const define = walkthroughBlocks().find((b) => b.includes('field()')) as string;

    const bad = await bash(
      `${define}\necho '{"error":{"code":"unauthorized","message":"Invalid API key"}}' | field auth_token`,
      {},
      20_000,
    );
    const good = await bash(`${define}\necho '{"auth_token":"avt_x"}' | field auth_token`, {}, 20_000);
    const empty = await bash(`${define}\nprintf '' | field auth_token`, {}, 20_000);

    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('{"error":{"code":"unauthorized","message":"Invalid API key"}}');
    expect(bad.stdout).toBe('');
    expect(good).toMatchObject({ code: 0, stdout: 'avt_x\n' });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('(no answer)');
  });

  it("runs the Run grants section's runner curl as written, inside a real run: the upstream gets the credential, the runner a redacted answer", async () => {
    const block = runnerGrantBlock();
    const [vault, upstream] = await Promise.all([startTestVault(), startEchoUpstream()]);
    let shell: Awaited<ReturnType<typeof bash>> | undefined;
    const runner = await startTestRunner(async (call) => {
      shell = await bash(
        `set -eo pipefail\n${block}`,
        { GRANT: call.body.grant, PROXY_URL: call.body.proxy_url, API_URL: upstream.url },
        20_000,
      );
      return { body: { output: { exit: shell.code } } };
    });
    try {
      const secret = 'sk-readme-grant-789';
      await vault.call('POST', '/v1/agents', {
        agent_id: 'grant-bot',
        name: 'g',
        input_args: [],
        runner: { type: 'webhook', url: runner.url },
        credential_delivery: 'proxy',
      });
      const p = await vault.call('POST', '/v1/agents/grant-bot/auth-profiles', {
        name: 'p',
        auth_type: 'bearer',
        auth_data: { token: secret },
        allowed_hosts: [`127.0.0.1:${upstream.port}`],
      });
      expect(p.status, p.text).toBe(201);

      const run = await vault.call('POST', '/run_agent', { agent_id: 'grant-bot', auth_token: p.json.auth_token, run_async: false });

      const log = `exit ${shell?.code}\n--- stdout\n${shell?.stdout}\n--- stderr\n${shell?.stderr}`;
      expect(run.json.agent_output, log).toEqual({ exit: 0 });
      const answer = JSON.parse(shell?.stdout ?? '');
      expect(answer).toMatchObject({ status: 200, body_encoding: 'utf8' });
      expect(answer.body).toContain('[REDACTED]');
      expect(shell?.stdout).not.toContain(secret);
      expect(upstream.seen.at(-1)).toMatchObject({ method: 'GET', path: '/v1/items', headers: { authorization: `Bearer ${secret}` } });
    } finally {
      await Promise.all([vault.close(), upstream.close(), runner.close()]);
    }
  });
});

describe("the README's short walk-through (README.md)", () => {
  it('has the blocks it promises: start and wait, extractor, create, upsert, run and status, stop and reset', () => {
    const all = readmeBlocks().join('\n');

    expect(all).toMatch(/until curl -sf \$VAULT\/healthz/);
    expect(all).toMatch(/field\(\) \{/);
    expect(all).toContain('/api/create_agent_auth_profile');
    expect(all).toContain('/api/upsert_agent_auth_profile');
    expect(all).toContain('/run_agent');
    expect(all).toContain('$RUN_URL');
    expect(all).toMatch(/^kill \$RUNNER_PID$/m);
    expect(all).toMatch(/^npm run -s stop$/m);
    expect(all).toMatch(/^rm -rf "\$\{VAULT_DATA_DIR:-\.data\}"$/m);
  });

  it('runs every shell block as written against a fresh server, and leaves nothing running', { timeout: 120_000 }, async () => {
    const run = await runAsWritten('av-readme-short-', readmeBlocks(), ['RUNNER_PORT'], 100_000);
    const { out, log } = run;

    expect(out.code, log).toBe(0);
    expect(out.stdout, log).toMatch(/avt_[A-Za-z0-9_-]{60,}/); // echo $TOKEN
    expect(out.stdout).toMatch(/"type":"update"/);
    expect(out.stdout).toMatch(/"received_fields":\["password","query","username"\]/);
    expect(out.stdout).toMatch(/"status":"succeeded"/);
    expect(out.stdout).toMatch(/"runs":2/);
    expect(out.stdout + out.stderr).not.toContain('n3w-s3cret');
    expect(out.stdout + out.stderr).not.toContain('s3cret"');
    expect(out.stdout + out.stderr).not.toMatch(/NodeVersionSupportWarning|Database is closed/);
    // The wait loop's probes are not rejected runs (the sample runner answers a GET).
    expect(out.stdout + out.stderr).not.toContain('rejected a request with a bad signature');
    await expectStoppedAndReset(run, [`http://127.0.0.1:${run.ports.PORT}/healthz`, `http://127.0.0.1:${run.ports.RUNNER_PORT}/run`]);
  });

  it('defines the same extractor as the full walk-through', () => {
    const short = readmeBlocks().join('\n');
    const define = walkthroughBlocks().find((b) => b.includes('field()')) as string;

    expect(short).toContain(define.trim());
  });
});
