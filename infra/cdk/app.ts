/**
 * The CDK app (cdk.json: `npx tsx infra/cdk/app.ts`). Deployment settings come from context;
 * see infra/cdk/config.ts for the keys and defaults, and the README's "Deploy to AWS".
 */
import { createVaultApp } from './vault-app.ts';

createVaultApp().app.synth();
