#!/usr/bin/env node
// The agent-vault CLI (clients/typescript/src/cli/main.ts). The package ships TypeScript source,
// run through tsx (a dependency of the repository root: `npm install` there provides it).
let register;
try {
  ({ register } = await import('tsx/esm/api'));
} catch {
  process.stderr.write('agent-vault: tsx is not installed; run `npm install` at the root of the agent-vault repository\n');
  process.exit(1);
}
register();
const { runCli } = await import('../src/cli/main.ts');
const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => controller.abort());
const readStdin = async () => {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
};
process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin,
  signal: controller.signal,
});
