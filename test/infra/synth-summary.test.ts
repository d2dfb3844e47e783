import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { nagSummary, summaryLine } from '#infra/cdk/synth-summary';
import { createVaultApp } from '#infra/cdk/vault-app';
import { SKIP_BUNDLING } from './support.ts';

// Issue 11: `npm run synth` ends with one line: the cdk-nag verdict and the template path.

describe('synth summary', () => {
  it('reports no finding, the acknowledged rules and the template path relative to the working directory', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'vault-synth-'));
    const { app, stack } = createVaultApp({ context: SKIP_BUNDLING, outdir });
    const templatePath = app.synth().getStackByName(stack.stackName).templateFullPath;

    const line = summaryLine(nagSummary(app), templatePath, outdir);

    expect(line).toBe(
      'cdk-nag AwsSolutions: 0 findings, 3 rules acknowledged (AwsSolutions-APIG4, AwsSolutions-L1, AwsSolutions-SMG4) · template: AgentVault-prod.template.json',
    );
    expect(line).not.toContain('\n');
  });

  it('names the findings and says that no template was written when one fails the synth', () => {
    const { app, stack } = createVaultApp({ context: SKIP_BUNDLING });
    new Queue(stack, 'Unencrypted', { encryption: QueueEncryption.UNENCRYPTED });
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS/);

    const line = summaryLine(nagSummary(app), undefined);

    expect(line).toMatch(/^cdk-nag AwsSolutions: [1-9]\d* findings? \(AwsSolutions-SQS\d at AgentVault-prod\/Unencrypted/);
    expect(line).toMatch(/no template: synthesis failed/);
  });
});
