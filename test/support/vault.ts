import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalVault, startLocalVault } from '#infra/local/server';
import { captureLogger } from './dynamo.ts';
import { answerProblems } from './openapi.ts';

export interface TestVault extends LocalVault {
  readonly apiKey: string;
  readonly dataDir: string;
  readonly logs: string[];
  /**
   * JSON request against the vault; `apiKey: null` sends none. Every answer is checked against the
   * OpenAPI document (test/support/openapi.ts): an undocumented status, body or error code throws,
   * failing the test that made the call.
   */
  call(method: string, path: string, body?: unknown, opts?: { apiKey?: string | null; headers?: Record<string, string>; raw?: string }): Promise<{
    status: number;
    headers: Headers;
    json: any;
    text: string;
  }>;
}

/** An answer the OpenAPI document does not describe (shared/schemas/openapi.ts: fix the document, or the route). */
export class UndocumentedAnswerError extends Error {
  override readonly name = 'UndocumentedAnswerError';
  constructor(readonly problems: readonly string[]) {
    super(`answer not as the OpenAPI document says:\n  ${problems.join('\n  ')}`);
  }
}

export const newApiKey = () => `avk_${randomBytes(32).toString('base64url')}`;

/** Starts the local server on a free loopback port over in-memory dynalite, with a bootstrap API key. */
export async function startTestVault(env: Record<string, string> = {}): Promise<TestVault> {
  const dataDir = mkdtempSync(join(tmpdir(), 'agent-vault-e2e-'));
  const apiKey = env.VAULT_BOOTSTRAP_API_KEY ?? newApiKey();
  const logs = captureLogger();
  const vault = await startLocalVault({
    env: { PORT: '0', VAULT_DATA_DIR: dataDir, VAULT_BOOTSTRAP_API_KEY: apiKey, VAULT_BOOTSTRAP_TENANT: 'acme', ...env },
    inMemory: env.VAULT_DYNAMODB_ENDPOINT === undefined,
    log: logs,
  });
  return Object.assign(vault, {
    apiKey,
    dataDir,
    logs: logs.lines,
    async call(method: string, path: string, body?: unknown, opts: { apiKey?: string | null; headers?: Record<string, string>; raw?: string } = {}) {
      const key = opts.apiKey === undefined ? apiKey : opts.apiKey;
      const headers: Record<string, string> = { ...(key ? { authorization: `Bearer ${key}` } : {}) };
      let payload: string | undefined = opts.raw;
      if (body !== undefined && payload === undefined) payload = JSON.stringify(body);
      if (payload !== undefined) headers['content-type'] = 'application/json';
      Object.assign(headers, opts.headers ?? {});
      const res = await fetch(`${vault.url}${path}`, { method, headers, body: payload });
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      const answer = { status: res.status, headers: res.headers, json, text };
      const problems = answerProblems(method, path, answer);
      if (problems.length > 0) throw new UndocumentedAnswerError(problems);
      return answer;
    },
  });
}
