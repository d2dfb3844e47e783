import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * The vault's operational metrics (docs/architecture.md, "Observability"). Domain code counts and
 * times through `countMetric` / `latencyMetric`; nothing is recorded until a sink is installed:
 * on AWS, Powertools Metrics (`emfMetrics`), which writes CloudWatch Embedded Metric Format lines
 * to stdout at the end of each invocation, and the alarms of infra/cdk/constructs/vault-alarms.ts
 * read them. Locally and in the unit tests no sink is installed, or a recording one.
 * Dimensions are low-cardinality by construction (an error code, an action): never an id.
 */
export const METRIC_NAMESPACE = 'AgentVault';
export const METRIC_SERVICE = 'agent-vault';

export const METRIC = {
  /** A credential used (the gate's record step: run, proxy, test); dimension `action`. */
  credentialUse: 'CredentialUse',
  /** A use of an existing profile refused by the gate (audited); dimension `code`. */
  credentialRefusal: 'CredentialRefusal',
  /** An OAuth2 access token fetched with no valid one cached. */
  oauth2Fetch: 'OAuth2TokenFetch',
  /** An OAuth2 access token refreshed ahead of its expiry. */
  oauth2Refresh: 'OAuth2TokenRefresh',
  /** A token-endpoint call that gave no token. */
  oauth2FetchFailure: 'OAuth2TokenFetchFailure',
  /** Time of one token-endpoint call (ms). */
  tokenEndpointLatency: 'TokenEndpointLatency',
  /** Time of one proxied upstream call (ms). */
  upstreamLatency: 'UpstreamLatency',
  /** An audit record that could not be written (the request was refused: fail-closed). */
  auditWriteFailure: 'AuditWriteFailure',
  /** Written by Powertools at a function's first invocation. */
  coldStart: 'ColdStart',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
export type MetricDimensions = Readonly<Record<string, string>>;

export interface MetricsSink {
  count(name: MetricName, dimensions?: MetricDimensions): void;
  milliseconds(name: MetricName, ms: number): void;
  /** Writes what was recorded during this invocation (and the cold start, the first time). */
  flush(): void;
}

let sink: MetricsSink | undefined;

/** Installs (or, with undefined, removes) where metrics go. */
export function setMetricsSink(next: MetricsSink | undefined): void {
  sink = next;
}

export function countMetric(name: MetricName, dimensions?: MetricDimensions): void {
  sink?.count(name, dimensions);
}

export function latencyMetric(name: MetricName, ms: number): void {
  sink?.milliseconds(name, ms);
}

/** End of an invocation: the recorded metrics go out (no-op without a sink). */
export function flushMetrics(): void {
  sink?.flush();
}

/**
 * Powertools Metrics as the sink: a metric without dimensions is stored and written once per
 * invocation (one EMF line); one with dimensions is written at once with its own (a single metric).
 * `write` replaces stdout (tests).
 */
export function emfMetrics(options: { functionName?: string; write?: (line: string) => void } = {}): MetricsSink {
  const make = () => {
    const m = new Metrics({
      namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRIC_NAMESPACE,
      serviceName: METRIC_SERVICE,
      functionName: options.functionName,
    });
    if (options.write) {
      const write = options.write;
      (m as unknown as { console: { log: (line: string) => void } }).console = { log: write };
    }
    return m;
  };
  const stored = make();
  // The one instance dimensioned metrics are written through: publishing clears its metrics and
  // dimensions, so each line carries only its own. (A Metrics per line would build a Console each.)
  const single = make();
  let coldStartWritten = false;
  return {
    count(name, dimensions) {
      if (!dimensions || Object.keys(dimensions).length === 0) {
        stored.addMetric(name, MetricUnit.Count, 1);
        return;
      }
      single.addDimensions({ ...dimensions });
      single.addMetric(name, MetricUnit.Count, 1);
      single.publishStoredMetrics();
    },
    milliseconds(name, ms) {
      stored.addMetric(name, MetricUnit.Milliseconds, ms);
    },
    flush() {
      if (!coldStartWritten) {
        coldStartWritten = true;
        stored.addMetric(METRIC.coldStart, MetricUnit.Count, 1);
      }
      if (stored.hasStoredMetrics()) stored.publishStoredMetrics();
    },
  };
}
