import { Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { createVaultApp } from '#infra/cdk/vault-app';
import { SKIP_BUNDLING, synthVault } from './support.ts';

/** Every acknowledgement recorded in the tree: rule id → reason, by construct path. */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing that is not acknowledged', () => {
    const { app } = synthVault();

    const report = new AwsSolutionsChecks().validateScope(app);

    const findings = report.violations.map(
      (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}: ${v.description}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('finds nothing with every optional setting in use', () => {
    const { app } = synthVault({
      alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops-alerts',
      domainName: 'vault.example.com',
      certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-1234567890ab',
      allowedRunnerHosts: 'runner.example.com',
    });

    expect(new AwsSolutionsChecks().validateScope(app).violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('gives every acknowledged finding a written reason', () => {
    const { app } = synthVault();

    const acks = acknowledgements(app);

    expect(acks.map((a) => a.id).sort()).toEqual(expect.arrayContaining(['AwsSolutions-APIG4', 'AwsSolutions-L1', 'AwsSolutions-SMG4']));
    for (const ack of acks) {
      expect(ack.id, ack.path).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(ack.reason.length, `${ack.id} at ${ack.path}`).toBeGreaterThan(80);
    }
  });

  it('acknowledges only the rules listed in the deploy guide', () => {
    const { app } = synthVault();

    expect([...new Set(acknowledgements(app).map((a) => a.id))].sort()).toEqual([
      'AwsSolutions-APIG4',
      'AwsSolutions-L1',
      'AwsSolutions-SMG4',
    ]);
  });

  it('runs at synthesis, as `cdk synth` does, and passes', () => {
    const { app } = createVaultApp({ context: SKIP_BUNDLING });

    expect(() => app.synth()).not.toThrow();
  });

  it('fails the synthesis when a resource breaks a rule', () => {
    const { app, stack } = createVaultApp({ context: SKIP_BUNDLING });
    new Queue(stack, 'Unencrypted', { encryption: QueueEncryption.UNENCRYPTED });

    expect(() => app.synth()).toThrow(/AwsSolutions-SQS/);
  });
});
