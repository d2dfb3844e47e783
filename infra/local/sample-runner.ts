import { createServer } from 'node:http';
import { verifySignature, SIGNATURE_HEADER } from '#shared/runs/signature';

/**
 * A sample webhook runner for the README walk-through. It verifies the vault's signature, then
 * answers with proof that it received the credentials — their field names only —
 * without echoing them, and counts its runs in the saved session.
 *
 *   RUNNER_SIGNING_SECRET=avs_… npm run sample-runner      (listens on 127.0.0.1:4000, RUNNER_PORT to change)
 */
const secret = process.env.RUNNER_SIGNING_SECRET ?? '';
const port = Number(process.env.RUNNER_PORT ?? 4000);
if (!secret.startsWith('avs_')) {
  process.stderr.write('Set RUNNER_SIGNING_SECRET to the runner_signing_secret returned by POST /v1/agents\n');
  process.exit(1);
}

const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method !== 'POST' || !verifySignature(secret, raw, req.headers[SIGNATURE_HEADER] as string | undefined)) {
    reply(401, { error: 'bad signature' });
    process.stdout.write('rejected a request with a bad signature\n');
    return;
  }
  const { session_id, parameters, session } = JSON.parse(raw) as {
    session_id: string;
    parameters: Record<string, unknown>;
    session: { runs?: number } | null;
  };
  const runs = (session?.runs ?? 0) + 1;
  const fields = Object.keys(parameters).sort();
  process.stdout.write(`run ${session_id}: signature ok, ${fields.length} fields, run #${runs}\n`);
  // Field names only: even a short hash of the values would let anyone who sees the output
  // test guesses of a weak password offline.
  reply(200, { output: { received_fields: fields, runs }, session: { runs } });
});

server.listen(port, '127.0.0.1', () => process.stdout.write(`sample runner listening on http://127.0.0.1:${port}/run\n`));
