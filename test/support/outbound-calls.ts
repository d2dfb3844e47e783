/**
 * A child process for test/unit/outbound/http-client-tls.test.ts: sends the calls named (JSON) in
 * argv[2] one after the other through the outbound client of this one process (one connection
 * pool), and prints what each answered (its body, or why it failed) as a JSON array. The test
 * runs it with NODE_EXTRA_CA_CERTS naming its self-signed certificate, a setting Node reads only
 * when it starts; certificate checks stay on.
 */
import { sendOutbound } from '#shared/outbound/http-client';

/** One call: an https URL whose host name the client "resolves" to `address`, under `scope`. */
export interface TlsCall {
  readonly url: string;
  readonly address: string;
  readonly scope: string;
}

const calls = JSON.parse(process.argv[2] ?? '[]') as TlsCall[];
const answers: string[] = [];
for (const c of calls) {
  const r = await sendOutbound({
    url: new URL(c.url),
    method: 'GET',
    headers: {},
    timeoutMs: 5_000,
    maxResponseBytes: 1024,
    allowPrivate: true,
    resolveHost: async () => [{ address: c.address, family: 4 }],
    connectionScope: c.scope,
  });
  answers.push(r.ok ? r.body.toString('utf8') : `failed: ${r.reason} ${r.message ?? ''}`.trim());
}
process.stdout.write(JSON.stringify(answers));
