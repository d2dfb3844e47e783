/**
 * fast-check generators of malformed and hostile HTTP requests for the vault. A request is a
 * small description; large parts (deep nesting, huge strings) stay symbolic until `render`, so
 * ten thousand of them fit in memory.
 *
 * Every generated request is built so that it cannot succeed at a write: with a valid API key,
 * each write route gets at least one defect the vault must refuse (an undeclared auth_data key,
 * an unknown agent, a malformed id, a forged token…); only with a missing or wrong API key may
 * the body be otherwise valid (the vault must then refuse it with 401 before doing anything).
 */
import fc from 'fast-check';
import { slotFor } from '#shared/credentials/profile-keys';
import { formatToken } from '#shared/crypto/token';
import { routeList as routes } from '#shared/http/routes';

export interface FuzzWorld {
  readonly tenant: string;
  readonly apiKey: string;
  readonly agentId: string;
  readonly ghostAgentId: string;
  readonly profileName: string;
  /** The one valid profile token (only sent together with a wrong API key). */
  readonly token: string;
  readonly runSessionId: string;
  readonly runnerUrl: string;
}

/** A JSON value as a tree, so objects can carry `__proto__`, duplicate keys and symbolic bulk. */
export type J =
  | { readonly t: 'lit'; readonly v: string | number | boolean | null }
  | { readonly t: 'raw'; readonly text: string }
  | { readonly t: 'arr'; readonly items: readonly J[] }
  | { readonly t: 'obj'; readonly entries: readonly (readonly [string, J])[] }
  /** `depth` levels of nesting: `[[[…]]]` or `{"a":{"a":…}}`. */
  | { readonly t: 'deep'; readonly depth: number; readonly kind: 'arr' | 'obj' }
  /** A string of `len` copies of `unit`. */
  | { readonly t: 'huge'; readonly len: number; readonly unit: string };

export type Body =
  | { readonly kind: 'none' }
  | { readonly kind: 'json'; readonly value: J }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'bytes'; readonly hex: string };

export interface FuzzRequest {
  readonly label: string;
  readonly method: string;
  /** Path and query, already encoded as sent. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Body;
  /** The API key is missing or wrong: the request must be refused whatever else it holds. */
  readonly badAuth: boolean;
}

const lit = (v: string | number | boolean | null): J => ({ t: 'lit', v });
const obj = (entries: (readonly [string, J])[]): J => ({ t: 'obj', entries });

/** Renders a JSON tree to text (strings via JSON.stringify: lone surrogates become \\udXXX escapes). */
export function renderJson(j: J): string {
  switch (j.t) {
    case 'lit':
      return typeof j.v === 'number' && !Number.isFinite(j.v) ? 'null' : JSON.stringify(j.v);
    case 'raw':
      return j.text;
    case 'arr':
      return `[${j.items.map(renderJson).join(',')}]`;
    case 'obj':
      return `{${j.entries.map(([k, v]) => `${JSON.stringify(k)}:${renderJson(v)}`).join(',')}}`;
    case 'deep':
      return j.kind === 'arr' ? `${'['.repeat(j.depth)}${']'.repeat(j.depth)}` : `${'{"a":'.repeat(j.depth)}1${'}'.repeat(j.depth)}`;
    case 'huge':
      return JSON.stringify(j.unit.repeat(j.len));
  }
}

export function renderBody(b: Body): Uint8Array | string | undefined {
  switch (b.kind) {
    case 'none':
      return undefined;
    case 'json':
      return renderJson(b.value);
    case 'text':
      return b.text;
    case 'bytes':
      return Buffer.from(b.hex, 'hex');
  }
}

/** Percent-encodes a path segment, including lone surrogates (as their CESU-8 bytes). */
export function encodeSegment(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    let out = '';
    for (const ch of s) {
      const cu = ch.charCodeAt(0);
      if (ch.length === 1 && cu >= 0xd800 && cu <= 0xdfff) {
        out += [0xe0 | (cu >> 12), 0x80 | ((cu >> 6) & 0x3f), 0x80 | (cu & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
      } else {
        out += encodeURIComponent(ch);
      }
    }
    return out;
  }
}

const DECLARED = new Set(['username', 'password']);
const POLLUTION_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

// ---- strings --------------------------------------------------------------------------------

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const nastyUnit = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: loneSurrogate },
  { weight: 2, arbitrary: fc.constantFrom('\u0000', '\u001f', '\u007f', '\u202e', '\ufeff', '\uffff', '/', '#', '%', '"', '\\', '\n', '😀', '\u0301') },
);

/** Short hostile strings: unicode of every kind, lone surrogates, NUL, injection attempts. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: nastyUnit, maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\u0000',
      'a\u0000b',
      '\ud800',
      '\udfff',
      'x\udc00y',
      '\udbff\udbff',
      '__proto__',
      'constructor',
      'prototype',
      'hasOwnProperty',
      'toString',
      '../../etc/passwd',
      '..',
      '%00',
      '%zz',
      '%',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal log4shell probe string, not a template
      '${jndi:ldap://127.0.0.1/a}',
      "' OR '1'='1",
      '<script>alert(1)</script>',
      'TENANT#acme#AGENT#fz-agent',
      'PROFILE#',
      'APIKEY#',
      'attribute_not_exists(pk)',
      ':pk',
      '#fields',
      '1e309',
      '-0',
      'NaN',
      '\u202egnp.exe',
      '😀'.repeat(50),
      'a'.repeat(129),
      'x'.repeat(2049),
    ),
  },
);

/** A JSON key that is never a declared input argument. */
const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...POLLUTION_KEYS) },
  { weight: 3, arbitrary: nastyString },
  { weight: 1, arbitrary: fc.constantFrom('isAdmin', 'polluted', 'api_key', 'auth_token', 'toString', 'valueOf') },
).filter((k) => !DECLARED.has(k));

const hugeString: fc.Arbitrary<J> = fc.record({
  len: fc.constantFrom(16_385, 70_000),
  unit: fc.constantFrom('x', 'é', '😀', '\u0000'),
}).map(({ len, unit }) => ({ t: 'huge', len: Math.ceil(len / unit.length), unit }) as J);

const deepValue: fc.Arbitrary<J> = fc.record({
  depth: fc.constantFrom(64, 1_000, 10_000),
  kind: fc.constantFrom('arr' as const, 'obj' as const),
}).map(({ depth, kind }) => ({ t: 'deep', depth, kind }));

const rawNumber: fc.Arbitrary<J> = fc
  .constantFrom('1e400', '-1e400', '-0', '123456789012345678901234567890', '0.0000000000000000000001', '1E+2')
  .map((text) => ({ t: 'raw', text }));

/** Any small JSON value, hostile at every level. */
export const hostileValue: fc.Arbitrary<J> = fc.letrec<{ value: J }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: nastyString.map(lit) },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)).map((v) => lit(v as number | boolean | null)) },
    { weight: 1, arbitrary: rawNumber },
    { weight: 2, arbitrary: fc.array(tie('value'), { maxLength: 4 }).map((items) => ({ t: 'arr', items }) as J) },
    {
      weight: 2,
      arbitrary: fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 4 }).map((entries) => obj(entries)),
    },
  ),
})).value;

/** Bulk: huge strings and deep nesting (costly to send, so used sparingly). */
const bulkValue: fc.Arbitrary<J> = fc.oneof(hugeString, deepValue);

/** Mostly small values, sometimes bulk. */
const anyValue: fc.Arbitrary<J> = fc.oneof({ weight: 15, arbitrary: hostileValue }, { weight: 1, arbitrary: bulkValue });

/** Prototype-pollution payloads. */
const pollution: fc.Arbitrary<readonly [string, J]> = fc.constantFrom<readonly [string, J]>(
  ['__proto__', obj([['polluted', lit('yes')], ['isAdmin', lit(true)]])],
  ['constructor', obj([['prototype', obj([['polluted', lit('yes')]])]])],
  ['prototype', obj([['polluted', lit('yes')]])],
  ['__proto__', lit(null)],
  ['constructor', lit('x')],
);

/** An object that always holds at least one key the agent does not declare (so it can never be accepted). */
const undeclaredObject: fc.Arbitrary<J> = fc
  .tuple(
    fc.oneof(pollution, fc.tuple(hostileKey, anyValue)),
    fc.array(fc.tuple(fc.oneof(hostileKey, fc.constantFrom('username', 'password')), anyValue), { maxLength: 3 }),
    fc.array(fc.tuple(fc.constantFrom('username', 'password'), fc.constantFrom('alice', 's3cret').map(lit)), { maxLength: 2 }),
  )
  .chain(([bad, more, good]) => fc.shuffledSubarray([bad, ...more, ...good], { minLength: 1 + more.length + good.length }).map((entries) => obj(entries)));

/** A value that is not an object of strings. */
const nonObject: fc.Arbitrary<J> = fc.oneof(
  nastyString.map(lit),
  fc.constantFrom(lit(null), lit(1), lit(true), { t: 'arr', items: [] } as J, { t: 'raw', text: '[{}]' } as J),
  deepValue,
);

// ---- tokens, ids, keys ----------------------------------------------------------------------

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a));

/** Malformed or forged auth tokens: never the valid one. */
export function forgedToken(world: FuzzWorld): fc.Arbitrary<string> {
  const realSlot = slotFor(world.tenant, world.agentId, world.profileName);
  const wellFormed = fc.tuple(fc.oneof(bytes(16), fc.constant(realSlot)), bytes(32)).map(([slot, secret]) => formatToken(slot, secret));
  return fc.oneof(
    { weight: 3, arbitrary: wellFormed },
    { weight: 1, arbitrary: wellFormed.map((t) => `avk_${t.slice(4)}`) },
    { weight: 1, arbitrary: wellFormed.map((t) => t.toUpperCase()) },
    { weight: 1, arbitrary: wellFormed.map((t) => t.slice(0, -1)) },
    { weight: 1, arbitrary: wellFormed.map((t) => `${t}A`) },
    {
      weight: 2,
      arbitrary: fc.tuple(wellFormed, fc.integer({ min: 4, max: 73 })).map(([t, i]) => {
        // Bad CRC: change one character (the token may still parse as base64url).
        const c = t[i] === 'A' ? 'B' : 'A';
        return t.slice(0, i) + c + t.slice(i + 1);
      }),
    },
    { weight: 1, arbitrary: fc.integer({ min: 4, max: 73 }).map((i) => world.token.slice(0, i) + (world.token[i] === 'Q' ? 'R' : 'Q') + world.token.slice(i + 1)) },
    { weight: 1, arbitrary: nastyString },
    { weight: 1, arbitrary: nastyString.map((s) => `avt_${s}`) },
  ).filter((t) => t !== world.token);
}

/** Strings that can never be a valid agent id. */
const invalidAgentId = fc.oneof(
  nastyString.map((s) => `#${s}`),
  nastyString.map((s) => `${s}/x`),
  fc.constantFrom('', ' ', '-x', '.x', 'a'.repeat(129), 'a\u0000', 'a\ud800', '__proto__'),
);

/** An agent id value for a body: the real one, an unknown one, an invalid string or a non-string. */
function agentIdValue(world: FuzzWorld, allowReal: boolean): fc.Arbitrary<J> {
  return fc.oneof(
    ...(allowReal ? [{ weight: 3, arbitrary: fc.constant(lit(world.agentId)) }] : []),
    { weight: 2, arbitrary: fc.constant(lit(world.ghostAgentId)) },
    { weight: 2, arbitrary: invalidAgentId.map(lit) },
    { weight: 1, arbitrary: nonObject.filter((j) => j.t !== 'lit' || typeof j.v !== 'string') },
    { weight: 1, arbitrary: fc.constant(obj([['S', lit(world.agentId)]])) },
  );
}

/** An agent id for a path segment. */
function agentIdSegment(world: FuzzWorld, allowReal: boolean): fc.Arbitrary<string> {
  return fc.oneof(
    ...(allowReal ? [fc.constant(world.agentId)] : []),
    fc.constant(world.ghostAgentId),
    invalidAgentId,
    nastyString.filter((s) => s !== world.agentId),
  );
}

/** A profile name for a path segment: never the real profile's name (DELETE must not succeed). */
function nameSegment(world: FuzzWorld): fc.Arbitrary<string> {
  return fc.oneof(nastyString, fc.constant('no-such-profile'), fc.constant(`${world.profileName}\u0000`)).filter((s) => s !== world.profileName);
}

const wrongApiKey = (world: FuzzWorld) =>
  fc.oneof(
    bytes(32).map((b) => `avk_${b.toString('base64url')}`),
    fc.constant(`avk_${world.apiKey.slice(4, -1)}${world.apiKey.endsWith('A') ? 'B' : 'A'}`),
    fc.constant(`${world.apiKey}x`),
    fc.constant(world.apiKey.slice(0, -1)),
    fc.constant(`avt_${world.apiKey.slice(4)}`),
    fc.constant(world.apiKey.toUpperCase()),
    fc.string({ unit: 'binary-ascii', maxLength: 60 }),
  ).filter((k) => k !== world.apiKey);

const headerSafe = (s: string) => /^[\t\x20-\x7e]*$/.test(s) && s.trim() === s && s.length > 0;

interface Auth {
  readonly headers: Record<string, string>;
  /** An api_key entry for the body, if the credential travels there. */
  readonly bodyKey?: J;
  readonly bad: boolean;
}

/** How the request authenticates: valid (each accepted channel) or missing / wrong. */
function authArb(world: FuzzWorld): fc.Arbitrary<Auth> {
  const wrong = wrongApiKey(world);
  const good: fc.Arbitrary<Auth> = fc.oneof(
    fc.constant<Auth>({ headers: { authorization: `Bearer ${world.apiKey}` }, bad: false }),
    fc.constant<Auth>({ headers: { authorization: `bearer  ${world.apiKey}` }, bad: false }),
    fc.constant<Auth>({ headers: { 'x-api-key': world.apiKey }, bad: false }),
    fc.constant<Auth>({ headers: {}, bodyKey: lit(world.apiKey), bad: false }),
  );
  const bad: fc.Arbitrary<Auth> = fc.oneof(
    fc.constant<Auth>({ headers: {}, bad: true }),
    wrong.filter(headerSafe).map((k) => ({ headers: { authorization: `Bearer ${k}` }, bad: true })),
    wrong.filter(headerSafe).map((k) => ({ headers: { 'x-api-key': k }, bad: true })),
    fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', `Token ${world.apiKey.slice(0, 10)}`, 'Bearer a b').map((v) => ({
      headers: { authorization: v.trim() || 'Bearer' },
      bad: true,
    })),
    wrong.map((k) => ({ headers: {}, bodyKey: lit(k), bad: true })),
    hostileValue.map((v) => ({ headers: {}, bodyKey: v, bad: true })),
  );
  return fc.oneof({ weight: 3, arbitrary: good }, { weight: 2, arbitrary: bad });
}

// ---- bodies per route -----------------------------------------------------------------------

/**
 * Optional extra entries: pollution keys and junk at the top level. Request objects are strict
 * (parseInput in shared/schemas/common.ts: 400 unknown_field), so a body with one stops at the
 * schema; three bodies in four carry none, so the checks behind the schema are fuzzed too.
 */
const extras = fc.oneof(
  { weight: 3, arbitrary: fc.constant<(readonly [string, J])[]>([]) },
  { weight: 1, arbitrary: fc.array(fc.oneof(pollution, fc.tuple(hostileKey, hostileValue)), { minLength: 1, maxLength: 2 }) },
);

/** Builds an object from fields that may each be dropped, and adds the API key and extras. */
function assemble(fields: fc.Arbitrary<(readonly [string, J] | undefined)[]>, auth: Auth): fc.Arbitrary<J> {
  const bulk = fc.option(fc.tuple(fc.nat(), bulkValue), { nil: undefined, freq: 20 });
  return fc.tuple(fields, extras, fc.boolean(), bulk).map(([f, x, shuffle, b]) => {
    const entries: (readonly [string, J])[] = [...f.filter((e): e is readonly [string, J] => e !== undefined), ...x];
    if (b && entries.length > 0) {
      // One field's value becomes a huge string or deep nesting.
      const i = b[0] % entries.length;
      entries[i] = [(entries[i] as readonly [string, J])[0], b[1]];
    }
    if (auth.bodyKey) entries.push(['api_key', auth.bodyKey]);
    if (shuffle) entries.reverse();
    return obj(entries);
  });
}

const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 3 });

function validAuthData(): fc.Arbitrary<J> {
  return fc.constant(obj([['username', lit('alice')], ['password', lit('s3cret')]]));
}

/** create_agent_auth_profile: with a good key, it never both names the real agent and carries acceptable auth_data. */
function createProfileBody(world: FuzzWorld, auth: Auth): fc.Arbitrary<J> {
  const authData = auth.bad ? fc.oneof(validAuthData(), undeclaredObject, nonObject) : fc.oneof(undeclaredObject, nonObject);
  const fields = fc.tuple(
    maybe(fc.oneof(fc.constant(lit(world.profileName)), fc.constant(lit('fresh-name')), nastyString.map(lit), nonObject).map((v) => ['name', v] as const)),
    maybe(agentIdValue(world, true).map((v) => ['agent_id', v] as const)),
    maybe(authData.map((v) => ['auth_data', v] as const)),
  ).map((t) => [...t]);
  return assemble(fields, auth);
}

function upsertBody(world: FuzzWorld, auth: Auth): fc.Arbitrary<J> {
  const token = auth.bad ? fc.oneof(fc.constant(world.token), forgedToken(world)) : forgedToken(world);
  const authData = auth.bad ? fc.oneof(validAuthData(), undeclaredObject, nonObject) : fc.oneof(undeclaredObject, nonObject);
  const fields = fc.tuple(
    maybe(agentIdValue(world, true).map((v) => ['agent_id', v] as const)),
    maybe(authData.map((v) => ['auth_data', v] as const)),
    maybe(fc.oneof(fc.constant(lit(world.profileName)), nastyString.map(lit), nonObject).map((v) => ['name', v] as const)),
    maybe(fc.oneof(fc.boolean().map(lit), hostileValue).map((v) => ['should_save_session', v] as const)),
    maybe(fc.oneof(token.map(lit), hostileValue).map((v) => ['auth_token', v] as const)),
  ).map((t) => [...t]);
  return assemble(fields, auth);
}

/**
 * run_agent: with a good key, the real agent is only named together with parameters holding an
 * undeclared key, a forged token, or neither (then the required input arguments are missing).
 */
function runBody(world: FuzzWorld, auth: Auth): fc.Arbitrary<J> {
  const params = fc.oneof(undeclaredObject, nonObject, fc.constant(obj([])));
  const fields = fc.tuple(
    maybe(agentIdValue(world, true).map((v) => ['agent_id', v] as const)),
    maybe(params.map((v) => ['parameters', v] as const)),
    maybe(fc.oneof(forgedToken(world).map(lit), hostileValue).map((v) => ['auth_token', v] as const)),
    maybe(fc.oneof(fc.boolean().map(lit), hostileValue).map((v) => ['run_async', v] as const)),
  ).map((t) => [...t]);
  return assemble(fields, auth);
}

/** A runner value that is never valid. */
const invalidRunner: fc.Arbitrary<J> = fc.oneof(
  nonObject,
  fc.constant(obj([['type', lit('webhook')]])),
  nastyString.map((s) => obj([['type', lit('webhook')], ['url', lit(`ftp://${s}`)]])),
  nastyString.map((s) => obj([['type', lit('webhook')], ['url', lit(`javascript:${s}`)]])),
  nastyString.map((s) => obj([['type', lit(s === 'webhook' ? 'lambda' : s)], ['url', lit('http://127.0.0.1:9/run')]])),
  fc.constant(obj([['type', lit('webhook')], ['url', lit('http://127.0.0.1:9/run')], ['timeout_ms', lit(-1)]])),
  pollution.map((p) => obj([p, ['type', lit('webhook')]])),
);

function agentBody(world: FuzzWorld, auth: Auth, opts: { create: boolean; realTarget: boolean }): fc.Arbitrary<J> {
  const validRunner = obj([['type', lit('webhook')], ['url', lit(world.runnerUrl)]]);
  const validArgs: J = { t: 'arr', items: [obj([['name', lit('username')]])] };
  // With a good key: creating never omits agent_id nor names a fresh valid one (the real id →
  // 409); replacing the real agent always carries an invalid runner.
  const runnerFree = auth.bad || opts.create || !opts.realTarget;
  const runner = runnerFree ? fc.oneof(fc.constant(validRunner), invalidRunner) : invalidRunner;
  const agentId = auth.bad ? agentIdValue(world, true) : fc.oneof(fc.constant(lit(world.agentId)), invalidAgentId.map(lit));
  const inputArgs = fc.oneof(
    fc.constant(validArgs),
    nonObject,
    fc.array(fc.oneof(hostileValue, hostileKey.map((n) => obj([['name', lit(n)]]))), { maxLength: 3 }).map((items) => ({ t: 'arr', items }) as J),
    fc.constant({ t: 'arr', items: [obj([['name', lit('a')]]), obj([['name', lit('a')]])] } as J),
  );
  const fields = fc.tuple(
    opts.create ? (auth.bad ? maybe(agentId) : agentId).map((v) => (v ? (['agent_id', v] as const) : undefined)) : fc.constant(undefined),
    maybe(fc.oneof(fc.constant(lit('Agent')), nastyString.map(lit), hostileValue).map((v) => ['name', v] as const)),
    maybe(hostileValue.map((v) => ['description', v] as const)),
    maybe(inputArgs.map((v) => ['input_args', v] as const)),
    (runnerFree ? maybe(runner) : runner).map((v) => (v ? (['runner', v] as const) : undefined)),
  ).map((t) => [...t]);
  return assemble(fields, auth);
}

// ---- requests -------------------------------------------------------------------------------

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/jsonx',
  'application/json-patch',
  'json',
  '*/*',
  'application/javascript',
];
const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/vnd.api+json', 'application/json;charset=utf-16'];

/** Bodies that are not a JSON object at all. */
const brokenBody: fc.Arbitrary<Body> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .constantFrom('', 'null', '[]', '1', '"s"', 'true', '{', '{"a":1,}', "{'a':1}", '{"a":1}{"b":2}', '\ufeff{}', '/* c */{}', '{"a":NaN}', '{"a":01}', '{"a":"\\ud800"}', '{"a":"\\u0000"}')
      .map((text): Body => ({ kind: 'text', text })),
  },
  { weight: 4, arbitrary: fc.constantFrom('ff', 'c0af', 'eda080', 'f4908080', '7b2261223a22ff227d', '00', 'efbbbf7b7d').map((hex): Body => ({ kind: 'bytes', hex })) },
  { weight: 4, arbitrary: nastyString.map((text): Body => ({ kind: 'text', text })) },
  { weight: 2, arbitrary: deepValue.map((value): Body => ({ kind: 'json', value })) },
  { weight: 1, arbitrary: fc.constant<Body>({ kind: 'json', value: { t: 'huge', len: 300_000, unit: 'x' } }) },
);

function queryFor(routePath: string, world: FuzzWorld): fc.Arbitrary<string> {
  const forgedCursor = (pk: string) => Buffer.from(JSON.stringify({ pk, sk: 'PROFILE#00' })).toString('base64url');
  const cursor = fc.oneof(
    nastyString.map(encodeSegment),
    fc.constant(forgedCursor(`TENANT#other#AGENT#${world.agentId}`)),
    fc.constant(forgedCursor(`TENANT#${world.tenant}#AGENT#${world.ghostAgentId}`)),
    fc.constant(Buffer.from('{"pk":{"S":"x"}}').toString('base64url')),
    fc.constant('x'.repeat(3000)),
  );
  const limit = fc.constantFrom('-1', '0', '101', '1e3', 'abc', '1.5', '99999999999999999999', '', '%00', '5');
  // Query objects are strict too: an unknown parameter is a 400, so most queries carry none.
  const extra = fc.oneof(
    { weight: 3, arbitrary: fc.constant('') },
    { weight: 2, arbitrary: fc.constantFrom('force=true', 'force=1', 'a=1&a=2', '__proto__[x]=1', 'constructor.prototype.polluted=1') },
  );
  return fc.tuple(maybe(limit), maybe(cursor), extra).map(([l, c, x]) => {
    const parts = [l !== undefined ? `limit=${l}` : '', c !== undefined ? `cursor=${c}` : '', x].filter(Boolean);
    // force=true is only ever sent where it cannot delete anything (see deleteAgentPath).
    const safe = routePath === '/v1/agents/{agent_id}' ? parts.filter((p) => !p.startsWith('force=true')) : parts;
    return safe.length ? `?${safe.join('&')}` : '';
  });
}

/** Requests for one route of the table, with hostile path parameters, headers and bodies. */
function routeRequest(world: FuzzWorld, index: number): fc.Arbitrary<FuzzRequest> {
  const route = routes[index] as (typeof routes)[number];
  return authArb(world).chain((auth) => {
    // Path parameters: the real agent only where the rest of the request guarantees refusal.
    const writeRoute = route.method !== 'GET';
    const realAgentOk = auth.bad || !writeRoute || route.path === '/v1/agents/{agent_id}' || route.path.endsWith('/auth-profiles/{name}');
    const rotate = route.path.endsWith('rotate-signing-secret');
    const agentSeg = agentIdSegment(world, realAgentOk && !(rotate && !auth.bad));
    const path = fc
      .record({
        agent: agentSeg,
        name: route.method === 'DELETE' && !auth.bad ? nameSegment(world) : fc.oneof(nameSegment(world), fc.constant(world.profileName)),
        session: fc.oneof(nastyString, fc.constant(world.runSessionId), fc.uuid()),
        query: queryFor(route.path, world),
      })
      .map(({ agent, name, session, query }) => {
        const filled = route.path
          .replace('{agent_id}', encodeSegment(agent))
          .replace('{name}', encodeSegment(name))
          .replace('{session_id}', encodeSegment(session))
          .replace('{asset}', encodeSegment(name));
        // Deleting the real agent with a good key must be refused (it has a profile; no force).
        return { path: filled + query, realDelete: route.method === 'DELETE' && route.path === '/v1/agents/{agent_id}' && agent === world.agentId };
      });
    const jsonBody: fc.Arbitrary<J> = (() => {
      switch (route.path) {
        case '/api/create_agent_auth_profile':
          return createProfileBody(world, auth);
        case '/api/upsert_agent_auth_profile':
          return upsertBody(world, auth);
        case '/run_agent':
        case '/api/run_agent':
          return runBody(world, auth);
        case '/v1/agents':
          return route.method === 'POST' ? agentBody(world, auth, { create: true, realTarget: false }) : extras.map((e) => obj(e));
        case '/v1/agents/{agent_id}':
          return route.method === 'PUT' ? agentBody(world, auth, { create: false, realTarget: true }) : assemble(fc.constant([]), auth);
        default:
          return assemble(fc.constant([]), auth);
      }
    })();
    const body: fc.Arbitrary<{ body: Body; type?: string }> = fc.oneof(
      { weight: 8, arbitrary: fc.tuple(jsonBody, fc.constantFrom(...JSON_TYPES)).map(([value, type]) => ({ body: { kind: 'json', value } as Body, type })) },
      { weight: 1, arbitrary: fc.tuple(jsonBody, fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined })).map(([value, type]) => ({ body: { kind: 'json', value } as Body, type })) },
      { weight: 2, arbitrary: fc.tuple(brokenBody, fc.constantFrom(...JSON_TYPES, ...CONTENT_TYPES)).map(([b, type]) => ({ body: b, type })) },
    );
    return fc.tuple(path, body).map(([{ path: p, realDelete }, { body: b, type }]): FuzzRequest => {
      const headers: Record<string, string> = { ...auth.headers };
      const sendsBody = route.method !== 'GET';
      if (sendsBody && type) headers['content-type'] = type;
      const finalPath = realDelete ? p.replace(/force=true/g, 'force=no') : p;
      return {
        label: `${route.method} ${route.path}`,
        method: route.method,
        path: finalPath,
        headers,
        body: sendsBody ? b : { kind: 'none' },
        badAuth: auth.bad,
      };
    });
  });
}

/** Known paths with a method they do not support, and unknown paths. */
function strayRequest(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  const knownPath = fc.constantFrom(...routes.map((r) => r.path)).map((p) =>
    p.replace('{agent_id}', world.agentId).replace('{name}', 'no-such-profile').replace('{session_id}', '00000000-0000-4000-8000-000000000000'),
  );
  const unknownPath = fc.oneof(
    fc.constantFrom('/', '/v1', '/v2/agents', '/api', '/api/', '/run_agent/', '/v1/agents//auth-profiles', '/v1/agents/x/auth-profiles/y/z', '/healthz/', '/openapi.json.bak', '/%00', '/%zz', '/..%2f..%2fetc%2fpasswd', '/__proto__', '/constructor/prototype', '/v1/agents/x/rotate-signing-secret/x'),
    fc.array(nastyString.map(encodeSegment), { minLength: 1, maxLength: 5 }).map((segs) => `/${segs.join('/')}`),
    fc.constant(`/${'a/'.repeat(1000)}`),
  );
  return fc.tuple(
    fc.oneof(knownPath, unknownPath),
    fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'PURGE'),
    authArb(world),
    fc.oneof(brokenBody, hostileValue.map((value): Body => ({ kind: 'json', value }))),
  ).map(([path, method, auth, body]): FuzzRequest => {
    const bodyless = method === 'GET' || method === 'HEAD';
    const headers: Record<string, string> = { ...auth.headers };
    if (!bodyless) headers['content-type'] = 'application/json';
    return { label: `stray ${method}`, method, path, headers, body: bodyless ? { kind: 'none' } : body, badAuth: auth.bad };
  }).filter((r) => {
    // Only requests that do not hit a route with its own method: those are covered above.
    const sent = new URL(`http://127.0.0.1${r.path}`).pathname;
    const m = routes.find((rt) => rt.method === r.method && new RegExp(`^${rt.path.replace(/\{[a-z_]+\}/g, '[^/]+')}$`).test(sent));
    return m === undefined;
  });
}

/** Every route of the table, weighted equally, plus wrong methods and unknown paths. */
export function fuzzRequest(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(...routes.map((_, i) => routeRequest(world, i)), strayRequest(world), strayRequest(world));
}
