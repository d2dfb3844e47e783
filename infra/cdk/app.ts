/**
 * The CDK app (cdk.json: `npx tsx infra/cdk/app.ts`). Deployment settings come from context;
 * see infra/cdk/config.ts for the keys and defaults, and the README's "Deploy to AWS".
 */
import { buildConsole } from '../../console/build.ts';
import { createVaultApp } from './vault-app.ts';

// The meta function bundles the console's generated module: build it before bundling.
buildConsole();
createVaultApp().app.synth();
