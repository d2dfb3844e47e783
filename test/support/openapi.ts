/**
 * Checks HTTP answers against the OpenAPI document (shared/schemas/openapi.ts) the way a
 * validating proxy would: the status is one the operation declares, the body matches that
 * answer's schema (error codes included: each error answer's `code` is an enum of the codes the
 * operation can answer there), and 429/503 carry the Retry-After they document. The e2e helper
 * (test/support/vault.ts) runs it on every answer, so an e2e call that answers something
 * undocumented fails its test.
 *
 * The JSON Schema validator is the ajv (2020-12 dialect, with ajv-formats) that
 * @seriousme/openapi-schema-validator — the document validator the unit tests use — depends on.
 */
import { createRequire } from 'node:module';
import { operations } from '#shared/http/route-docs';
import { matchRoute } from '#shared/http/routes';
import { buildOpenApi } from '#shared/schemas/openapi';

interface AjvError {
  readonly instancePath: string;
  readonly message?: string;
  readonly params?: unknown;
}
interface ValidateFn {
  (data: unknown): boolean;
  errors?: AjvError[] | null;
}
interface Ajv {
  addSchema(schema: object, key: string): Ajv;
  compile(schema: object): ValidateFn;
}

const requireFromValidator = createRequire(createRequire(import.meta.url).resolve('@seriousme/openapi-schema-validator'));
const Ajv2020 = requireFromValidator('ajv/dist/2020.js').default as new (opts: object) => Ajv;
const addFormats = requireFromValidator('ajv-formats').default as (ajv: Ajv) => void;

const DOC_ID = 'agent-vault-openapi';
type Doc = ReturnType<typeof buildOpenApi>;
type Json = Record<string, unknown>;

let state: { doc: Doc; ajv: Ajv; compiled: Map<string, ValidateFn> } | undefined;

function context() {
  if (!state) {
    const doc = buildOpenApi();
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(structuredClone(doc) as object, DOC_ID);
    state = { doc, ajv, compiled: new Map() };
  }
  return state;
}

/** The document the checks use (built once per process). */
export const openApiDocument = (): Doc => context().doc;

const pointer = (...parts: string[]) => `${DOC_ID}#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;

/** A validator for the schema at a JSON pointer of the document (`$ref`s inside resolve in the document). */
export function schemaValidator(...parts: string[]): ValidateFn {
  const { ajv, compiled } = context();
  const key = pointer(...parts);
  let fn = compiled.get(key);
  if (!fn) {
    fn = ajv.compile({ $ref: key });
    compiled.set(key, fn);
  }
  return fn;
}

const describeErrors = (errors: readonly AjvError[] | null | undefined) =>
  (errors ?? []).slice(0, 8).map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''} ${e.params ? JSON.stringify(e.params) : ''}`.trim());

/** The path as the server routes it: the WHATWG URL parser's (dot segments, %2e included, resolved), as infra/local/http-adapter.ts does. */
function routedPath(path: string): string {
  try {
    return new URL(`http://localhost${path.startsWith('/') ? '' : '/'}${path}`).pathname;
  } catch {
    return path.split('?')[0] as string;
  }
}

/** The operation of a method and path in the document, with its path template; undefined if none. */
export function operationOf(method: string, path: string): { template: string; method: string; op: Json } | undefined {
  const m = matchRoute(method, routedPath(path));
  if (!m || 'allowed' in m || !operations[m.route.key]) return undefined;
  const lower = method.toLowerCase();
  const op = (openApiDocument().paths[m.route.path] as Record<string, Json> | undefined)?.[lower];
  return op ? { template: m.route.path, method: lower, op } : undefined;
}

/** A request body against the operation's request body schema (problems, empty when valid). */
export function requestProblems(method: string, path: string, body: unknown): string[] {
  const found = operationOf(method, path);
  if (!found) return [`${method} ${path}: no operation in the document`];
  const rb = found.op.requestBody as { $ref?: string } | undefined;
  if (!rb?.$ref) return [`${method} ${found.template}: the operation takes no request body`];
  const name = rb.$ref.split('/').pop() as string;
  const validate = schemaValidator('components', 'requestBodies', name, 'content', 'application/json', 'schema');
  return validate(body) ? [] : describeErrors(validate.errors);
}

/**
 * What is undocumented about an answer: its status not declared for the operation, a body that
 * does not match the declared schema (an error code outside the operation's enum included), a
 * 429/503 without Retry-After. Empty when the answer is documented. Paths that are no operation
 * (unknown paths, the console's files) get the route-not-found / method-not-allowed check.
 */
export function answerProblems(method: string, path: string, answer: { status: number; headers: Headers; text: string }): string[] {
  const found = operationOf(method, path);
  let body: unknown;
  try {
    body = answer.text ? JSON.parse(answer.text) : undefined;
  } catch {
    body = undefined;
  }
  if (!found) {
    const m = matchRoute(method, routedPath(path));
    if (m && !('allowed' in m)) return []; // a route outside the document: the console's static files
    const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
    const expected = m && 'allowed' in m ? [405, 'method_not_allowed'] : [404, 'route_not_found'];
    if (method.toUpperCase() === 'HEAD' && answer.status === expected[0]) return [];
    return answer.status === expected[0] && code === expected[1] ? [] : [`${method} ${path}: answered ${answer.status} ${String(code)}; a path that is no operation answers ${expected.join(' ')}`];
  }
  const where = `${method.toUpperCase()} ${found.template} answered ${answer.status}`;
  const responses = found.op.responses as Record<string, Json>;
  const declared = responses[String(answer.status)];
  if (!declared) return [`${where}: the document declares only ${Object.keys(responses).join(', ')} for ${found.op.operationId as string}`];
  const problems: string[] = [];
  if ((answer.status === 429 || answer.status === 503) && !answer.headers.get('retry-after')) problems.push(`${where} without the Retry-After header the document declares`);
  const content = declared.content as Record<string, unknown> | undefined;
  if (found.method === 'head' || !content) {
    if (answer.text !== '' && found.method !== 'head') problems.push(`${where} with a body; the document declares none`);
    return problems;
  }
  if (body === undefined) return [...problems, `${where} without a JSON body; the document declares one`];
  const validate = schemaValidator('paths', found.template, found.method, 'responses', String(answer.status), 'content', 'application/json', 'schema');
  if (!validate(body)) {
    const code = (body as { error?: { code?: unknown } }).error?.code;
    problems.push(`${where}${code !== undefined ? ` (${String(code)})` : ''}, not as the document says (${found.op.operationId as string}): ${describeErrors(validate.errors).join('; ')}`);
  }
  return problems;
}
