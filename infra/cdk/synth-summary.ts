import { relative } from 'node:path';
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

/** What `npm run synth` reports about the cdk-nag AwsSolutions checks. */
export interface NagSummary {
  /** Unacknowledged findings (any one fails the synth): rule id and construct path. */
  readonly findings: readonly string[];
  /** Rule ids acknowledged in code, each with a written reason. */
  readonly acknowledged: readonly string[];
}

/**
 * Runs the AwsSolutions pack over the app (as the synth-time plugin does) and collects the
 * acknowledged rule ids from the construct metadata.
 */
export function nagSummary(app: App): NagSummary {
  const report = new AwsSolutionsChecks().validateScope(app);
  const findings = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}`));
  const acknowledged = new Set<string>();
  for (const c of app.node.findAll()) {
    for (const m of c.node.metadata) {
      if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const id of Object.keys(m.data as Record<string, string>)) acknowledged.add(id.replace(/^annotation::/i, '').replace(/\[.*\]$/, ''));
    }
  }
  return { findings, acknowledged: [...acknowledged].sort() };
}

/**
 * The one line `npm run synth` ends with: the nag verdict and where the template is, e.g.
 * `cdk-nag AwsSolutions: 0 findings, 3 rules acknowledged (…) · template: cdk.out/AgentVault-prod.template.json`.
 *
 * @param templatePath the stack's template file (absolute), or undefined when synthesis failed.
 * @param cwd          the directory the path is shown relative to.
 */
export function summaryLine(summary: NagSummary, templatePath: string | undefined, cwd = process.cwd()): string {
  const n = summary.findings.length;
  const verdict = `cdk-nag AwsSolutions: ${n} finding${n === 1 ? '' : 's'}${n ? ` (${summary.findings.slice(0, 3).join('; ')}${n > 3 ? '; …' : ''})` : ''}`;
  const acks = `${summary.acknowledged.length} rule${summary.acknowledged.length === 1 ? '' : 's'} acknowledged${summary.acknowledged.length ? ` (${summary.acknowledged.join(', ')})` : ''}`;
  const where = templatePath ? `template: ${relative(cwd, templatePath)}` : 'no template: synthesis failed, see the report above';
  return `${verdict}, ${acks} · ${where}`;
}
