import type { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { createVaultApp } from '#infra/cdk/vault-app';
import type { VaultStack } from '#infra/cdk/vault-stack';

// The built-in CloudFormation schema check costs ~2 s per synth (docs/architecture.md, "Stack"); `npm run synth`
// still runs it. Set before any App is synthesised.
process.env.CDK_VALIDATION = 'false';

/** Context that makes NodejsFunction skip esbuild: template tests need no bundles. */
export const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] } as const;

export interface SynthResult {
  readonly app: App;
  readonly stack: VaultStack;
  readonly template: Template;
}

/** Builds the vault app as `cdk synth` does, with deployment settings from `context`. */
export function synthVault(
  context: Record<string, unknown> = {},
  options: { nag?: boolean; bundle?: boolean; outdir?: string } = {},
): SynthResult {
  const { app, stack } = createVaultApp({
    context: { ...(options.bundle ? {} : SKIP_BUNDLING), ...context },
    nag: options.nag ?? false,
    ...(options.outdir ? { outdir: options.outdir } : {}),
  });
  return { app, stack, template: Template.fromStack(stack) };
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; [k: string]: unknown }>;

/** The one resource of `type` whose logical id starts with `prefix` (fails if not exactly one). */
export function resourceByPrefix(
  template: Template,
  type: string,
  prefix: string,
): { id: string; Properties: Record<string, unknown>; [k: string]: unknown } {
  const matches = Object.entries(template.findResources(type) as Resources).filter(([id]) => id.startsWith(prefix));
  if (matches.length !== 1)
    throw new Error(`expected one ${type} with logical id ${prefix}*, found ${matches.map(([id]) => id).join(', ') || 'none'}`);
  const [id, resource] = matches[0] as [string, Resources[string]];
  return { ...resource, id, Properties: resource.Properties ?? {} };
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
}

/** Every statement of the inline policies attached to the role whose logical id starts with `rolePrefix`. */
export function statementsOfRole(template: Template, rolePrefix: string): Statement[] {
  const role = resourceByPrefix(template, 'AWS::IAM::Role', rolePrefix);
  return Object.values(template.findResources('AWS::IAM::Policy') as Resources)
    .filter((p) => JSON.stringify(p.Properties?.Roles ?? []).includes(`"${role.id}"`))
    .flatMap((p) => (p.Properties?.PolicyDocument as { Statement: Statement[] } | undefined)?.Statement ?? []);
}

/** The actions of a statement as a list. */
export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** The logical ids a value references through Ref or Fn::GetAtt. */
export function referencedIds(value: unknown): string[] {
  const ids: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, inner] of Object.entries(v)) {
        if (k === 'Ref' && typeof inner === 'string') ids.push(inner);
        else if (k === 'Fn::GetAtt' && Array.isArray(inner) && typeof inner[0] === 'string') ids.push(inner[0]);
        else walk(inner);
      }
    }
  };
  walk(value);
  return ids;
}
