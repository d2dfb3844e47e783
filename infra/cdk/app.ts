/**
 * The CDK app (cdk.json: `npx tsx infra/cdk/app.ts`). Deployment settings come from context;
 * see infra/cdk/config.ts for the keys and defaults, and docs/deploy.md, "Deploy to AWS".
 */
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { buildConsole } from '../../console/build.ts';
import { nagSummary, summaryLine } from './synth-summary.ts';
import { createVaultApp } from './vault-app.ts';

// The meta function bundles the console's generated module: build it before bundling.
buildConsole();
const { app, stack } = createVaultApp();
let assembly: CloudAssembly | undefined;
try {
  assembly = app.synth();
} finally {
  // One line on stderr (the CDK CLI shows the app's stderr; stdout may carry the template):
  // the cdk-nag verdict and where the template went, also when a finding failed the synth.
  process.stderr.write(`${summaryLine(nagSummary(app), assembly?.getStackByName(stack.stackName).templateFullPath)}\n`);
}
