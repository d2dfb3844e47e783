import { createServer } from 'node:http';
import { verifySignature, SIGNATURE_HEADER } from '#shared/runs/signature';

/**
 * A sample webhook runner for the walk-through (README.md, and docs/walkthrough.md in full). It verifies the vault's signature, then
 * works in the agent's credential_delivery mode:
 *
 * - `parameters` (the default): the credentials arrive merged into `parameters`. It answers with
 *   proof that it received them — their field names only — without echoing them.
 * - `proxy`: the run carries no secret, only a run grant (`grant`) and the vault's `proxy_url`.
 *   It makes its one outbound call, `parameters.method` (default GET) `parameters.url`, through
 *   the vault with the grant, and answers with the upstream's status and (vault-redacted) body.
 *   The vault injects the credential; this process never holds it.
 *
 * Either way it counts its runs in the saved session, and it never prints a value or the grant.
 *
 *   RUNNER_SIGNING_SECRET=avs_… npm run sample-runner      (listens on 127.0.0.1:4000, RUNNER_PORT to change)
 */
const secret = process.env.RUNNER_SIGNING_SECRET ?? '';
const port = Number(process.env.RUNNER_PORT ?? 4000);
if (!secret.startsWith('avs_')) {
  process.stderr.write('Set RUNNER_SIGNING_SECRET to the runner_signing_secret returned by POST /v1/agents\n');
  process.exit(1);
}

/** How much of the upstream's (already redacted) body goes into the run's output. */
const MAX_BODY_CHARS = 2048;

interface RunPayload {
  session_id: string;
  parameters: Record<string, unknown>;
  session: { runs?: number } | null;
  /** Present with credential_delivery "proxy": a run grant avg_…, valid while the run runs. */
  grant?: string;
  proxy_url?: string;
}

interface RunnerAnswer {
  output?: unknown;
  session?: unknown;
  error?: string;
}

/**
 * The run's outbound call through the vault proxy: `Authorization: Bearer <grant>` and the
 * request only (the grant names the agent and profile). The vault answers
 * `{status, headers, body, body_encoding}` with the profile's secrets redacted, or an error.
 */
async function callThroughProxy(run: RunPayload, runs: number): Promise<RunnerAnswer> {
  const { url, method = 'GET' } = run.parameters;
  if (typeof url !== 'string' || typeof method !== 'string') {
    return {
      error: 'credential_delivery "proxy": pass the URL to call as parameters.url (and optionally parameters.method)',
      session: { runs },
    };
  }
  let res: Response;
  try {
    res = await fetch(run.proxy_url as string, {
      method: 'POST',
      headers: { authorization: `Bearer ${run.grant}`, 'content-type': 'application/json' },
      body: JSON.stringify({ method, url }),
      signal: AbortSignal.timeout(20_000),
    });
  } catch (err) {
    return { error: `the vault proxy could not be reached (${err instanceof Error ? err.name : 'error'})`, session: { runs } };
  }
  const answer = (await res.json().catch(() => ({}))) as {
    status?: number;
    body?: string;
    body_encoding?: string;
    error?: { code?: string; message?: string };
  };
  let host = '?';
  try {
    host = new URL(url).host;
  } catch {}
  process.stdout.write(
    `run ${run.session_id}: signature ok, proxy delivery, ${method.toUpperCase()} ${host} → ${res.ok ? `upstream ${answer.status}` : `vault ${res.status}`}, run #${runs}\n`,
  );
  if (!res.ok) {
    return {
      error:
        `the vault proxy refused the call: ${answer.error?.code ?? 'error'} (HTTP ${res.status}): ${answer.error?.message ?? ''}`.trim(),
      session: { runs },
    };
  }
  const body = typeof answer.body === 'string' ? answer.body.slice(0, MAX_BODY_CHARS) : '';
  return {
    output: { delivery: 'proxy', upstream_status: answer.status, upstream_body: body, body_encoding: answer.body_encoding, runs },
    session: { runs },
  };
}

const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  // A GET is a readiness probe (the README's wait loop): answered, and not a rejected run.
  if (req.method === 'GET' || req.method === 'HEAD') {
    reply(200, { status: 'ok' });
    return;
  }
  if (req.method !== 'POST' || !verifySignature(secret, raw, req.headers[SIGNATURE_HEADER] as string | undefined)) {
    reply(401, { error: 'bad signature' });
    process.stdout.write('rejected a request with a bad signature\n');
    return;
  }
  const run = JSON.parse(raw) as RunPayload;
  const runs = (run.session?.runs ?? 0) + 1;
  if (typeof run.grant === 'string' && typeof run.proxy_url === 'string') {
    reply(200, await callThroughProxy(run, runs));
    return;
  }
  const fields = Object.keys(run.parameters).sort();
  process.stdout.write(`run ${run.session_id}: signature ok, ${fields.length} fields, run #${runs}\n`);
  // Field names only: even a short hash of the values would let anyone who sees the output
  // test guesses of a weak password offline.
  reply(200, { output: { received_fields: fields, runs }, session: { runs } });
});

server.listen(port, '127.0.0.1', () => process.stdout.write(`sample runner listening on http://127.0.0.1:${port}/run\n`));
