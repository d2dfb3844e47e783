import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { getDeps } from '#shared/context';
import { discardRunJob, markRunFailed } from '#shared/services/runs';

/**
 * Consumes the worker's on-failure destination (SQS): each message is a Lambda async failure
 * record whose `requestPayload` is the worker's event: `{v, session_id, tenant}`, ids only (the
 * sealed job stays in the table, so no token material, not even sealed, reaches SQS). The run
 * is marked `failed` with a message for the caller (the worker's own error text is not copied
 * into it: it may describe internals) and its sealed job is deleted: nothing will retry it. A record that cannot be processed for a transient reason
 * is reported back so SQS redelivers it; after 5 receives it lands in the poison-message queue,
 * which has an alarm.
 */
export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const deps = await getDeps();
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    const failure = parseFailureRecord(record.body);
    if (!failure) {
      // Malformed records can never succeed; redelivering them would only delay the alarm.
      deps.log.log('error', 'unreadable async failure record dropped', { message_id: record.messageId });
      continue;
    }
    try {
      const changed = await markRunFailed(deps, failure.sessionId, failureMessage(failure.condition));
      await discardRunJob(deps, failure.sessionId);
      deps.log.log('warn', 'async run failed', {
        session_id: failure.sessionId,
        condition: failure.condition,
        error_type: failure.errorType,
        marked: changed,
      });
    } catch (err) {
      deps.log.log('error', 'could not mark run failed', {
        session_id: failure.sessionId,
        error_name: err instanceof Error ? err.name : typeof err,
      });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
};

/** The parts of a Lambda on-failure destination record this handler uses. */
export interface FailureRecord {
  readonly sessionId: string;
  /** `RetriesExhausted` (the worker threw or timed out) or `EventAgeExceeded` (never started). */
  readonly condition: string;
  readonly errorType?: string;
}

/**
 * Reads a Lambda async on-failure record (`{requestContext: {condition}, requestPayload,
 * responsePayload}`); returns undefined when it does not carry a run event's session id.
 */
export function parseFailureRecord(body: string): FailureRecord | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const d = doc as {
    requestContext?: { condition?: unknown };
    requestPayload?: { session_id?: unknown };
    responsePayload?: { errorType?: unknown } | null;
  };
  const sessionId = d.requestPayload?.session_id;
  if (typeof sessionId !== 'string' || sessionId === '' || sessionId.length > 512) return undefined;
  const condition = typeof d.requestContext?.condition === 'string' ? d.requestContext.condition : 'Unknown';
  const errorType = typeof d.responsePayload?.errorType === 'string' ? d.responsePayload.errorType : undefined;
  return { sessionId, condition, ...(errorType ? { errorType } : {}) };
}

/** The error_message the caller sees when polling the run. */
export function failureMessage(condition: string): string {
  return condition === 'EventAgeExceeded'
    ? 'the run was not started in time (the vault was overloaded); run the agent again'
    : 'the run failed inside the vault; run the agent again';
}
