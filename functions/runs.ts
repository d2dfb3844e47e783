import { createLambdaRunDispatcher } from '#shared/aws/run-dispatcher';
import { createLambdaWebhookDispatcher } from '#shared/aws/webhook-dispatcher';
import { setRunDispatcherFactory, setWebhookDispatcherFactory } from '#shared/context';
import { publicBaseUrl } from '#shared/http/base-url';
import { type RouteRequest, routeGroupHandler } from '#shared/http/handler';
import { ok } from '#shared/http/responses';
import { getRun, startRun } from '#shared/services/runs';

// On AWS, async runs are sealed with KMS into the table and the worker gets their ids (local mode
// uses its in-process queue).
setRunDispatcherFactory(createLambdaRunDispatcher);
// A run that refreshes a delegated OAuth profile's token publishes connection events (webhooks).
setWebhookDispatcherFactory(createLambdaWebhookDispatcher);

const runAgent = async ({ deps, caller, body, event }: RouteRequest<'POST /run_agent'> | RouteRequest<'POST /api/run_agent'>) =>
  ok(await startRun(deps, caller, body, publicBaseUrl(event)));

/** Runs: the compatible run_agent (and its alias) and the run status endpoint (shared/http/routes.ts). */
export const handler = routeGroupHandler('runs', {
  'POST /run_agent': runAgent,
  'POST /api/run_agent': runAgent,
  'GET /v1/runs/{session_id}': async ({ deps, caller, params }) => ok(await getRun(deps, caller, params.session_id as string)),
});
