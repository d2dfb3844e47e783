import { describe, expect, it } from 'vitest';
import { METRIC, emfMetrics } from '#shared/metrics';

/** Each EMF line's metric names with the dimension values the line carries. */
const parse = (lines: string[]) =>
  lines.map((l) => {
    const line = JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } };
    const [directive] = line._aws.CloudWatchMetrics;
    return {
      metrics: directive?.Metrics.map((m) => m.Name),
      dimensions: Object.fromEntries((directive?.Dimensions[0] ?? []).map((k) => [k, line[k]])),
    };
  });

describe('emfMetrics', () => {
  it('writes each dimensioned count as its own line, with only its own dimensions, however many are written', () => {
    const lines: string[] = [];
    const sink = emfMetrics({ functionName: 'agent-vault-profiles', write: (l) => lines.push(l) });

    sink.count(METRIC.credentialUse, { action: 'proxy' });
    sink.count(METRIC.credentialRefusal, { code: 'profile_not_found' });
    sink.count(METRIC.credentialUse, { action: 'run' });

    expect(parse(lines)).toEqual([
      { metrics: [METRIC.credentialUse], dimensions: { service: 'agent-vault', action: 'proxy' } },
      { metrics: [METRIC.credentialRefusal], dimensions: { service: 'agent-vault', code: 'profile_not_found' } },
      { metrics: [METRIC.credentialUse], dimensions: { service: 'agent-vault', action: 'run' } },
    ]);
  });

  it('keeps undimensioned metrics for the end of the invocation, apart from the dimensioned lines', () => {
    const lines: string[] = [];
    const sink = emfMetrics({ functionName: 'agent-vault-profiles', write: (l) => lines.push(l) });

    sink.milliseconds(METRIC.upstreamLatency, 12.5);
    sink.count(METRIC.credentialUse, { action: 'proxy' });
    sink.flush();

    const [dimensioned, stored] = parse(lines);
    expect(dimensioned).toEqual({ metrics: [METRIC.credentialUse], dimensions: { service: 'agent-vault', action: 'proxy' } });
    expect(stored?.metrics).toEqual(expect.arrayContaining([METRIC.upstreamLatency, METRIC.coldStart]));
    expect(stored?.dimensions).toEqual({ service: 'agent-vault' });
  });
});
