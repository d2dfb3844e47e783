import { randomUUID } from 'node:crypto';
import { canRead } from '../credentials/access.ts';
import { type OpenedForUse, openForUse } from '../credentials/gate.ts';
import { issueGrant, revokeGrant } from '../credentials/grants.ts';
import { SESSION_FIELD } from '../credentials/profile-keys.ts';
import { DecryptionError } from '../crypto/aead.ts';
import { openWithServerKey, sealWithServerKey } from '../crypto/server-seal.ts';
import type { Caller, Deps } from '../deps.ts';
import { ConflictError, HttpError, NotFoundError, ValidationError, agentNotFound } from '../errors.ts';
import type { RunJob } from '../runs/dispatch.ts';
import { Redactor } from '../outbound/redact.ts';
import { accessTokenFor } from '../credentials/oauth2/access-token.ts';
import { endpointOptions } from '../credentials/oauth2/connection.ts';
import { assertRunnerUrlAllowed } from '../outbound/runner-policy.ts';
import { DEFAULT_RUNNER_TIMEOUT_MS, callWebhookRunner } from '../runs/webhook.ts';
import type { AgentItem, RunItem, SessionItem } from '../schemas/items.ts';
import type { RunAgentBody, RunState, RunStatus } from '../schemas/runs.ts';
import { openSigningSecret } from './agents.ts';
import { assertDeclaredKeys } from './profiles.ts';
import type { RunRecord } from '../store/types.ts';
import { type ProfileRef, profileRef, profileRefOf } from '../store/profile-ref.ts';

export const MAX_SESSION_BYTES = 256 * 1024;
/** agent_output + error_message must fit in the run item (DynamoDB items hold 400 KB). */
export const MAX_STORED_RESULT_BYTES = 300 * 1024;
const RESULT_PURPOSE = 'run-result';

interface PreparedRun {
  readonly agent: AgentItem;
  /** The profile opened through the gate (absent for a run without auth_token). */
  readonly use?: OpenedForUse;
  /** The profile's values as the runner receives them (merged into parameters). */
  readonly authData: Readonly<Record<string, string>>;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly session?: SessionItem;
}

interface RunOutcome {
  readonly status: Extract<RunState, 'succeeded' | 'failed'>;
  readonly agentOutput?: unknown;
  readonly errorMessage?: string;
}

/**
 * Merges the profile's credentials into the caller's parameters: every key must be an input
 * argument of the agent, a key may come from only one side, and every required argument must
 * be present afterwards. Each rule is a 400 that names the keys.
 */
export function mergeParameters(
  agent: AgentItem,
  authData: Readonly<Record<string, string>>,
  parameters: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  assertDeclaredKeys(agent, Object.keys(parameters), 'parameters');
  const conflicts = Object.keys(parameters).filter((k) => Object.hasOwn(authData, k));
  if (conflicts.length > 0) {
    throw new ValidationError(
      `parameters ${conflicts.map((k) => `"${k}"`).join(', ')} also come from the auth profile; send each input argument from one side only`,
      'parameter_conflict',
    );
  }
  const merged: Record<string, unknown> = { ...parameters, ...authData };
  const missing = agent.input_args
    .filter((a) => a.required && (merged[a.name] === undefined || merged[a.name] === null))
    .map((a) => a.name);
  if (missing.length > 0) {
    throw new ValidationError(
      `agent "${agent.agent_id}" requires input argument${missing.length > 1 ? 's' : ''} ${missing.map((k) => `"${k}"`).join(', ')}; pass ${missing.length > 1 ? 'them' : 'it'} in parameters or in the auth profile`,
      'missing_input_args',
    );
  }
  return merged;
}

/** Why a session was not saved; `oversized` fails the run, `race` only reports. */
interface SessionProblem {
  readonly kind: 'oversized' | 'race' | 'profile_changed';
  readonly message: string;
}

async function prepare(
  deps: Deps,
  caller: Caller,
  agentId: string,
  token: string | undefined,
  parameters: Readonly<Record<string, unknown>>,
): Promise<PreparedRun> {
  if (token === undefined) {
    const ctx = await deps.store.profileContext.load({ tenant: caller.tenant, agentId });
    const agent = ctx.agent;
    if (!agent) throw agentNotFound(agentId);
    return { agent, authData: {}, parameters: mergeParameters(agent, {}, parameters) };
  }
  // run_agent is a compatible route: a token in another format is an unknown one (docs/api.md, "Kura drop-in").
  const use = await openForUse(deps, caller, { kind: 'token', agentId, token, unknownIfMalformed: true }, 'run', { withSession: true });
  if (use.agent.credential_delivery === 'proxy') {
    // The runner gets no value: a run grant for the proxy instead (perform issues it).
    if (use.type.injection === 'none') {
      throw new ValidationError(
        `agent "${agentId}" takes its credentials through the proxy (credential_delivery "proxy"), but auth profile "${use.profile.item.name}" is ${use.type.name}, which the vault cannot inject; use a typed profile (bearer, basic, api_key, oauth2_client_credentials)`,
        'not_injectable',
      );
    }
    return { agent: use.agent, use, authData: {}, parameters: mergeParameters(use.agent, {}, parameters), session: use.session };
  }
  // A delegated OAuth profile hands the runner its access token (fetched or refreshed by the
  // vault), never the refresh token or the client secret.
  const authData = use.type.runParameters(
    use.type.runsWith === 'access_token' ? await accessTokenFor(deps, use, endpointOptions(deps)) : use.secret,
  );
  return { agent: use.agent, use, authData, parameters: mergeParameters(use.agent, authData, parameters), session: use.session };
}

/**
 * The saved session's value, if it belongs to the profile's current generation and opens under
 * its keys. A session left from an earlier generation, or from a deleted profile of the same
 * name, never opens; the run starts without it and the next save overwrites it.
 */
function openSession(deps: Deps, run: PreparedRun): unknown {
  const opened = run.use?.profile;
  const { session } = run;
  if (!opened || !session || session.generation !== opened.item.generation) return undefined;
  if (session.profile_created_at !== undefined && session.profile_created_at !== opened.item.created_at) return undefined;
  try {
    return JSON.parse(opened.keys.open(SESSION_FIELD, session.version, session.blob).toString('utf8'));
  } catch (err) {
    if (!(err instanceof DecryptionError) && !(err instanceof SyntaxError)) throw err;
    deps.log.log('warn', 'saved session did not open; starting without it', { agent_id: run.agent.agent_id, slot: opened.item.slot });
    return undefined;
  }
}

async function saveSession(deps: Deps, run: PreparedRun, value: unknown): Promise<SessionProblem | undefined> {
  const opened = (run.use as OpenedForUse).profile;
  const bytes = Buffer.from(JSON.stringify(value ?? null), 'utf8');
  if (bytes.length > MAX_SESSION_BYTES) {
    return {
      kind: 'oversized',
      message: `the session returned by the runner is ${bytes.length} bytes; at most 256 KiB (${MAX_SESSION_BYTES} bytes) can be saved, so the previous session was kept`,
    };
  }
  const read = run.session ? { version: run.session.version, generation: run.session.generation } : undefined;
  const version = (read?.version ?? 0) + 1;
  const { tenant, agent_id: agentId } = run.agent;
  const { slot, generation, created_at: profileCreatedAt } = opened.item;
  const sessions = deps.store.sessions;
  const written = { generation, version, profile_created_at: profileCreatedAt };
  const ref = profileRef(tenant, agentId, slot);
  const saved = await sessions.save(
    ref,
    { ...written, blob: opened.keys.seal(SESSION_FIELD, version, bytes), updated_at: deps.now().toISOString() },
    read,
  );
  if (!saved) return { kind: 'race', message: 'the session was not saved: a concurrent run of this profile saved its session first' };
  // The profile may have been deleted or replaced while the runner ran; its session must not
  // come back. There are no cross-item transactions (dynalite has none), so: save, then read the
  // profile again and take the session back if the profile is gone or is another generation.
  // Delete and replace remove the session *after* writing the profile, so whichever of the two
  // writes comes second sees the other: a save before their cleanup is removed by it, a save after
  // it finds the profile changed here. What remains is a crash between the save and this check:
  // that session stays, but never opens (generation and profile_created_at differ, and it is
  // sealed under the old token's keys) and the next save of the current profile overwrites it.
  const current = await deps.store.profiles.get(ref);
  if (!current || current.generation !== generation || current.created_at !== profileCreatedAt) {
    await sessions.deleteIfWritten(ref, written);
    return { kind: 'profile_changed', message: 'the session was not saved: the auth profile was deleted or replaced while the run ran' };
  }
  return undefined;
}

/**
 * Calls the agent's runner with the merged parameters and the saved session; never throws for
 * runner faults. With credential_delivery "proxy" the runner gets a run grant and `proxyUrl`
 * instead of values; the grant expires with the runner's timeout and is revoked when the call ends.
 */
async function perform(
  deps: Deps,
  run: PreparedRun,
  sessionId: string,
  proxyUrl: string | undefined,
  maxWaitMs = Number.POSITIVE_INFINITY,
): Promise<RunOutcome> {
  const timeoutMs = Math.min(run.agent.runner.timeout_ms ?? DEFAULT_RUNNER_TIMEOUT_MS, maxWaitMs);
  if (run.agent.credential_delivery !== 'proxy' || !run.use) return performCall(deps, run, sessionId, timeoutMs, {});
  if (!proxyUrl) return { status: 'failed', errorMessage: 'the run could not be given a proxy URL for its grant' };
  const issued = await issueGrant(deps, run.use.profile, sessionId, deps.now().getTime() + timeoutMs);
  try {
    return await performCall(deps, run, sessionId, timeoutMs, {
      grant: issued.grant,
      grant_expires_at: issued.expiresAt,
      proxy_url: proxyUrl,
    });
  } finally {
    await revokeGrant(deps, issued.idHex);
  }
}

async function performCall(
  deps: Deps,
  run: PreparedRun,
  sessionId: string,
  timeoutMs: number,
  delivery: Record<string, string>,
): Promise<RunOutcome> {
  const keepSession = run.use?.profile.item.should_save_session === true;
  const session = keepSession ? openSession(deps, run) : undefined;
  const runner = run.agent.runner;
  try {
    // Checked again at call time: the policy (https, allowed hosts) may have tightened since the
    // agent was registered.
    await assertRunnerUrlAllowed(deps.config, runner.url);
  } catch (err) {
    if (err instanceof HttpError) return { status: 'failed', errorMessage: err.message };
    throw err;
  }
  const result = await callWebhookRunner({
    url: runner.url,
    signingSecret: openSigningSecret(deps, run.agent),
    payload: { session_id: sessionId, agent_id: run.agent.agent_id, parameters: run.parameters, session: session ?? null, ...delivery },
    timeoutMs,
    allowPrivate: deps.config.allowPrivateRunners,
    // A kept-alive connection to the runner serves this agent's runs only.
    connectionScope: JSON.stringify(['runner', run.agent.tenant, run.agent.agent_id]),
    nowSeconds: nowSeconds(deps),
    // The leak guard: no decrypted credential leaves in what the runner returned (output and
    // error, in any of the encodings Redactor knows). Its variants are computed once per run,
    // while the runner works (callWebhookRunner builds it once the request is sent).
    // Only the runner's text is redacted; the vault's own messages carry no values.
    redactor: () =>
      new Redactor(run.use ? [...run.use.type.secretValues(run.use.secret, run.use.config), ...Object.values(run.authData)] : []),
  });
  if (!result.ok) return { status: 'failed', errorMessage: result.error };
  const runnerError = result.error;
  let status: RunOutcome['status'] = runnerError ? 'failed' : 'succeeded';
  const errors = runnerError ? [runnerError] : [];
  if (keepSession && result.session !== undefined) {
    const problem = await saveSession(deps, run, result.session);
    if (problem) {
      errors.push(problem.message);
      if (problem.kind === 'oversized') status = 'failed';
    }
  }
  return { status, agentOutput: result.output, errorMessage: errors.length ? errors.join('; ') : undefined };
}

/** Seals {agent_output, error_message} for the run item; an oversized output is dropped with an error. */
function sealResult(deps: Deps, tenant: string, sessionId: string, o: RunOutcome): { outcome: RunOutcome; blob: Buffer } {
  // Every failed run, sync or async, at warn with its reason: the text the caller gets (the
  // vault's own message, or the runner's, already redacted).
  if (o.status === 'failed') deps.log.log('warn', 'run failed', { tenant, session_id: sessionId, reason: o.errorMessage });
  let outcome = o;
  let bytes = Buffer.from(JSON.stringify({ agent_output: o.agentOutput, error_message: o.errorMessage }), 'utf8');
  if (bytes.length > MAX_STORED_RESULT_BYTES) {
    outcome = {
      status: 'failed',
      errorMessage: `agent_output is ${bytes.length} bytes; at most ${MAX_STORED_RESULT_BYTES} bytes (300 KiB) can be stored with a run`,
    };
    bytes = Buffer.from(JSON.stringify({ error_message: outcome.errorMessage }), 'utf8');
  }
  return { outcome, blob: sealWithServerKey(deps.serverKeys, RESULT_PURPOSE, [tenant, sessionId], bytes) };
}

/**
 * Records the run as a use of its profile through the gate's record step: its audit record
 * (fail-closed: a 503 and no run if it cannot be written) and its counters. Called before the
 * credentials go to the runner or the queue. The run may go on until the runner's timeout: its
 * in-flight mark (in_flight_until), which endInFlight removes when the run ends. Answers the mark.
 */
async function recordUse(deps: Deps, run: PreparedRun, sessionId: string, slackMs = 0): Promise<string | undefined> {
  if (!run.use) return undefined;
  const timeoutMs = run.agent.runner.timeout_ms ?? DEFAULT_RUNNER_TIMEOUT_MS;
  const inFlightUntil = new Date(deps.now().getTime() + timeoutMs + slackMs);
  await run.use.recordUse({ sessionId, inFlightUntil });
  return inFlightUntil.toISOString();
}

/**
 * The run that set `until` as its profile's in_flight_until has ended: the mark goes, unless a
 * concurrent run has set a later one since (the store's conditional endInFlight), so the profile
 * no longer counts as having a run in flight. Best effort: the run's outcome stands if this write
 * fails, and the mark then lapses at its time. Limit: one mark per profile, not per run; of two
 * overlapping runs the later-started one holds it, and its end clears it for both.
 */
async function endInFlight(deps: Deps, ref: ProfileRef | undefined, until: string | undefined): Promise<void> {
  if (ref === undefined || until === undefined) return;
  try {
    await deps.store.profiles.endInFlight(ref, until);
  } catch (err) {
    deps.log.log('warn', 'the in-flight mark of a finished run was not removed; it lapses at its time', {
      agent_id: ref.agentId,
      slot: ref.slot,
      error: (err as Error).name,
    });
  }
}

/** An async run waits in the queue before its runner is called: how long that may take, for "in flight". */
const QUEUE_SLACK_MS = 5 * 60_000;

/** The clock of `deps` in epoch seconds (run expiry, webhook signatures). */
function nowSeconds(deps: Deps): number {
  return Math.floor(deps.now().getTime() / 1000);
}

function expiresAt(deps: Deps): number {
  return nowSeconds(deps) + deps.config.runRetentionSeconds;
}

/**
 * Creates the run record (conditional on its absence) and makes sure it landed. A failed
 * condition is either our own put retried by the SDK after its answer was lost (the stored item
 * is then ours: same tenant, agent and creation time) or a session id that is already taken;
 * the latter is refused with a 409 rather than ignored, and nothing is dispatched.
 */
async function createRunRecord(deps: Deps, record: RunRecord): Promise<void> {
  const runs = deps.store.runs;
  if (await runs.create(record)) return;
  const stored = await runs.get(record.session_id, nowSeconds(deps));
  if (stored && stored.tenant === record.tenant && stored.agent_id === record.agent_id && stored.created_at === record.created_at) return;
  deps.log.log('error', 'run record not created: its session id is already taken', { session_id: record.session_id });
  throw new ConflictError(
    'The run could not be recorded (its session id is already in use); nothing was started, retry the request',
    'run_conflict',
  );
}

/** Where a runner given a grant sends its requests. */
const proxyUrlOf = (baseUrl: string) => `${baseUrl}/v1/proxy`;

export interface StartedRun {
  agent_run_url: string;
  session_id: string;
  agent_output?: unknown;
  error_message?: string;
}

/**
 * POST /run_agent: verifies the token, merges and checks the parameters (400/404 before any
 * runner call), then either waits for the runner (`run_async: false`) or records the run as
 * queued and hands it to the dispatcher.
 */
export async function startRun(deps: Deps, caller: Caller, body: RunAgentBody, baseUrl: string): Promise<StartedRun> {
  const tenant = caller.tenant;
  const run = await prepare(deps, caller, body.agent_id, body.auth_token, body.parameters);
  const sessionId = randomUUID();
  const agentRunUrl = `${baseUrl}/v1/runs/${sessionId}`;
  const createdAt = deps.now().toISOString();
  const opened = run.use?.profile.item;
  // Assigned part by part rather than spread with members after it (docs/architecture.md, "Performance").
  const base: Omit<RunRecord, 'status'> = Object.assign(
    {
      tenant,
      agent_id: body.agent_id,
      session_id: sessionId,
      // Who may read the run besides an admin: the key that started it, and keys with read on
      // this very profile (its slot and creation time), not on a later one of the same name.
      started_by: caller.apiKeyId,
    },
    opened ? { profile_slot: opened.slot, profile_created_at: opened.created_at } : undefined,
    { created_at: createdAt, expires_at: expiresAt(deps) },
  );

  if (body.run_async) {
    // The job is dispatched only once the run record is known to be ours: the worker moves the
    // record by session id alone, so it must never act on someone else's.
    const [, inFlightUntil] = await Promise.all([
      createRunRecord(deps, Object.assign({}, base, { status: 'queued' as const })),
      recordUse(deps, run, sessionId, QUEUE_SLACK_MS),
    ]);
    try {
      await deps.dispatcher.dispatch({
        tenant,
        apiKeyId: caller.apiKeyId,
        sourceIp: caller.sourceIp,
        requestId: caller.requestId,
        apiKeyRole: caller.role,
        agentId: body.agent_id,
        sessionId,
        authToken: body.auth_token,
        parameters: body.parameters,
        proxyUrl: proxyUrlOf(baseUrl),
        // The worker ends the mark when the run has ended.
        ...(inFlightUntil !== undefined ? { inFlightUntil } : {}),
      });
    } catch (err) {
      await Promise.all([
        markRunFailed(deps, sessionId, 'the run could not be queued'),
        endInFlight(deps, opened && profileRefOf(opened), inFlightUntil),
      ]);
      throw err;
    }
    return { agent_run_url: agentRunUrl, session_id: sessionId };
  }

  const inFlightUntil = await recordUse(deps, run, sessionId);
  const ended = () => endInFlight(deps, opened && profileRefOf(opened), inFlightUntil);
  let performed: RunOutcome;
  try {
    performed = await perform(deps, run, sessionId, proxyUrlOf(baseUrl), deps.config.syncRunMaxMs);
  } catch (err) {
    await ended();
    throw err;
  }
  const { outcome, blob } = sealResult(deps, tenant, sessionId, performed);
  // The run has ended: its record and the end of its in-flight mark, in one round trip.
  await Promise.all([
    createRunRecord(
      deps,
      Object.assign({}, base, { status: outcome.status, result: blob, started_at: createdAt, finished_at: deps.now().toISOString() }),
    ),
    ended(),
  ]);
  return { agent_run_url: agentRunUrl, session_id: sessionId, agent_output: outcome.agentOutput, error_message: outcome.errorMessage };
}

/** The caller an async run executes for: the tenant and API key that started it. */
function workerCaller(job: RunJob): Caller {
  return {
    tenant: job.tenant,
    apiKeyId: job.apiKeyId ?? 'unknown',
    role: job.apiKeyRole ?? 'admin',
    sourceIp: job.sourceIp,
    requestId: job.requestId ?? job.sessionId,
  };
}

/**
 * Executes an accepted async run (in-process queue locally, the worker Lambda on AWS). A run
 * that is no longer queued (a duplicate delivery) is left alone and answers false; otherwise
 * the outcome is recorded and the answer is true.
 */
export async function executeRunJob(deps: Deps, job: RunJob): Promise<boolean> {
  const runs = deps.store.runs;
  const queued = await runs.get(job.sessionId, nowSeconds(deps));
  const running = queued && (await runs.transition(queued, ['queued'], 'running', { started_at: deps.now().toISOString() }));
  if (!running) return false;
  // The mark set when the run was accepted, on the profile the run record names: removed once the run has ended, however it ended.
  const profile = running.profile_slot !== undefined ? profileRef(job.tenant, job.agentId, running.profile_slot) : undefined;
  try {
    return await executeRunning(deps, job, running);
  } finally {
    await endInFlight(deps, profile, job.inFlightUntil);
  }
}

async function executeRunning(deps: Deps, job: RunJob, running: RunItem): Promise<true> {
  const runs = deps.store.runs;
  let outcome: RunOutcome;
  let blob: Buffer;
  try {
    // The use was counted when the run was accepted; the worker opens the profile again to perform it.
    const run = await prepare(deps, workerCaller(job), job.agentId, job.authToken, job.parameters);
    ({ outcome, blob } = sealResult(deps, job.tenant, job.sessionId, await perform(deps, run, job.sessionId, job.proxyUrl)));
  } catch (err) {
    // The profile or agent changed between acceptance and execution: that is the run's outcome.
    if (!(err instanceof HttpError)) {
      await markRunFailed(deps, job.sessionId, 'the run failed inside the vault');
      throw err;
    }
    ({ outcome, blob } = sealResult(deps, job.tenant, job.sessionId, { status: 'failed', errorMessage: err.message }));
  }
  await runs.transition(running, ['running'], outcome.status, { result: blob, finished_at: deps.now().toISOString() });
  return true;
}

/**
 * Marks a run failed if it is still in one of `from` (default: queued or running); used for a
 * dispatch failure, the async on-failure destination, and a job that expired before it started.
 */
export async function markRunFailed(
  deps: Deps,
  sessionId: string,
  message: string,
  from: readonly Extract<RunState, 'queued' | 'running'>[] = ['queued', 'running'],
): Promise<boolean> {
  const run = await deps.store.runs.get(sessionId, nowSeconds(deps));
  if (!run) return false;
  const { blob } = sealResult(deps, run.tenant, sessionId, { status: 'failed', errorMessage: message });
  return (await deps.store.runs.transition(run, from, 'failed', { result: blob, finished_at: deps.now().toISOString() })) !== undefined;
}

/**
 * Deletes the sealed job of an async run (AWS mode: after the worker recorded the outcome, or
 * when the on-failure handler failed the run). Deleting a job that is gone is not an error.
 */
export async function discardRunJob(deps: Deps, sessionId: string): Promise<void> {
  await deps.store.runJobs.delete(sessionId);
}

function toStatus(deps: Deps, run: RunItem): RunStatus {
  const result = run.result
    ? (JSON.parse(openWithServerKey(deps.serverKeys, RESULT_PURPOSE, [run.tenant, run.session_id], run.result).toString('utf8')) as {
        agent_output?: unknown;
        error_message?: string;
      })
    : {};
  return {
    session_id: run.session_id,
    agent_id: run.agent_id,
    status: run.status,
    agent_output: result.agent_output,
    error_message: result.error_message,
    created_at: run.created_at,
    finished_at: run.finished_at,
  };
}

/**
 * May `caller` read the run? An admin of its tenant, the key that started it, or a key with read
 * on the profile the run used — that very incarnation: a profile deleted and created again under
 * the same name (another owner's, say) gives no access to the earlier one's runs. A run from
 * before runs recorded their starter is for the admins only.
 */
async function mayReadRun(deps: Deps, caller: Caller, run: RunItem): Promise<boolean> {
  if (run.tenant !== caller.tenant) return false;
  if (caller.role === 'admin' || (run.started_by !== undefined && run.started_by === caller.apiKeyId)) return true;
  if (run.profile_slot === undefined || run.profile_created_at === undefined) return false;
  const profile = await deps.store.profiles.get(profileRef(run.tenant, run.agent_id, run.profile_slot));
  return profile !== undefined && profile.created_at === run.profile_created_at && canRead(caller, profile);
}

/** GET /v1/runs/{session_id}: another tenant's or key's, an expired and an unknown run all answer 404. */
export async function getRun(deps: Deps, caller: Caller, sessionId: string): Promise<RunStatus> {
  const run = /^[0-9a-f-]{36}$/.test(sessionId) ? await deps.store.runs.get(sessionId, nowSeconds(deps)) : undefined;
  if (!run || !(await mayReadRun(deps, caller, run)))
    throw new NotFoundError(`No run "${sessionId}" (runs expire after the retention period)`, 'run_not_found');
  return toStatus(deps, run);
}
