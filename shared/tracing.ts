import type { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * AWS X-Ray tracing with Powertools' Tracer, behind the `tracing` deploy setting (infra/cdk/config.ts,
 * which sets VAULT_TRACING=true and X-Ray active tracing). Off, the Tracer is neither loaded nor
 * bundled (docs/architecture.md, "Observability"): its package is imported here only when on.
 */
export const tracingEnabled = (): boolean => process.env.VAULT_TRACING === 'true';

let tracer: Promise<Tracer> | undefined;

/** The process's Tracer, loaded on first use; undefined when tracing is off. */
export function getTracer(): Promise<Tracer> | undefined {
  if (!tracingEnabled()) return undefined;
  tracer ??= import('@aws-lambda-powertools/tracer').then(
    ({ Tracer }) => new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'agent-vault' }),
  );
  return tracer;
}

/** Traces the AWS SDK v3 client's calls when tracing is on; answers the client. */
export async function traced<C extends object>(client: C): Promise<C> {
  const t = await getTracer();
  return t ? t.captureAWSv3Client(client) : client;
}

/**
 * Opens a subsegment for one invocation (named after the route group) with the cold-start and
 * service annotations; the function it answers closes it (with the error, if any). A no-op when
 * tracing is off.
 */
export async function traceInvocation(name: string): Promise<(err?: unknown) => void> {
  const t = await getTracer();
  const segment = t?.getSegment();
  if (!t || !segment) return () => {};
  const sub = segment.addNewSubsegment(`## ${name}`);
  t.setSegment(sub);
  t.annotateColdStart();
  t.addServiceNameAnnotation();
  return (err) => {
    if (err instanceof Error) t.addErrorAsMetadata(err);
    sub.close();
    t.setSegment(segment);
  };
}
