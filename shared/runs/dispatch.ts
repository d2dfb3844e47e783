/**
 * How an accepted asynchronous run reaches the code that executes it. Local mode runs it in
 * process on a bounded queue; the AWS deployment hands it to a worker Lambda, wrapped with KMS so
 * neither the auth token nor any decrypted value rests anywhere in clear.
 */
export interface RunJob {
  readonly tenant: string;
  /** Short id of the API key that started the run (the Caller's apiKeyId), for policy and audit. */
  readonly apiKeyId?: string;
  /** The starting request's source IP and id: the worker re-applies the profile's policy (IP allow-list) and audits refusals with them. */
  readonly sourceIp?: string;
  readonly requestId?: string;
  /** That key's role, so the worker opens the profile with the same permissions (absent: a job from before roles, when every key was an admin). */
  readonly apiKeyRole?: 'admin' | 'member';
  readonly agentId: string;
  readonly sessionId: string;
  /** The caller's auth token, if the run uses a profile. Never logged, never stored. */
  readonly authToken?: string;
  /** Caller-supplied parameters (not yet merged with the profile's auth_data). */
  readonly parameters: Record<string, unknown>;
  /** POST /v1/proxy of the vault that accepted the run (runners of credential_delivery "proxy" get it with their grant). */
  readonly proxyUrl?: string;
  /** The in-flight mark the accepted run set on its profile (in_flight_until): the worker removes it when the run has ended. */
  readonly inFlightUntil?: string;
}

export interface RunDispatcher {
  /** Accepts the job for execution; rejects if it could not be handed over. */
  dispatch(job: RunJob): Promise<void>;
}
