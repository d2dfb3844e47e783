import { createLambdaRunDispatcher } from '#shared/aws/run-dispatcher';
import { setRunDispatcherFactory } from '#shared/context';
import { routeGroupHandler } from '#shared/http/handler';
import { publicBaseUrl } from '#shared/http/base-url';
import { ok } from '#shared/http/responses';
import { parseInput } from '#shared/schemas/common';
import { RunAgentBody } from '#shared/schemas/runs';
import { getRun, startRun } from '#shared/services/runs';
import type { RouteFn } from '#shared/http/handler';

// On AWS, async runs are sealed with KMS into the table and the worker gets their ids (local mode
// uses its in-process queue).
setRunDispatcherFactory(createLambdaRunDispatcher);

const runAgent: RouteFn = async ({ deps, caller, body, event }) =>
  ok(await startRun(deps, caller, parseInput(RunAgentBody, body), publicBaseUrl(event)));

/** Runs: the compatible run_agent (and its alias) and the run status endpoint. */
export const handler = routeGroupHandler({
  'POST /run_agent': runAgent,
  'POST /api/run_agent': runAgent,
  'GET /v1/runs/{session_id}': async ({ deps, tenant, params }) => ok(await getRun(deps, tenant, params.session_id ?? '')),
});
