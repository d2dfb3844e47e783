/**
 * Layers point one way (docs/architecture.md, "Map of the folders"): a module imports only from
 * its own layer or below. The few imports that run upward are listed here, each with its reason;
 * a new one fails this test until it is removed or argued for. Type-only imports are not
 * counted: they vanish at run time and couple nothing.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Lowest first. A module's layer is that of the longest prefix of its path listed here. */
const LAYERS: readonly (readonly string[])[] = [
  ['shared/crypto/', 'shared/errors.ts', 'shared/keys.ts', 'shared/log.ts', 'shared/metrics.ts', 'shared/tracing.ts', 'shared/sleep.ts', 'shared/config.ts', 'shared/clients.ts', 'shared/deps.ts'],
  ['shared/schemas/'],
  ['shared/store/types.ts', 'shared/store/cursor.ts', 'shared/store/profile-ref.ts'],
  ['shared/repositories/', 'shared/store/'],
  ['shared/audit/', 'shared/outbound/', 'shared/runs/', 'shared/limits/', 'shared/webhooks/'],
  ['shared/credentials/'],
  ['shared/services/'],
  ['shared/http/', 'shared/aws/', 'shared/context.ts'],
  ['functions/'],
];

/** Upward imports that stay, each with why. */
const ALLOWED: Readonly<Record<string, string>> = {
  'shared/schemas/audit.ts -> shared/audit/record.ts': 'the audit query filters by the record\'s own action enum',
  'shared/schemas/openapi.ts -> shared/http/routes.ts': 'the document is generated from the route table',
  'shared/schemas/openapi.ts -> shared/http/route-docs.ts': "the document is generated from the route table's operations",
  'shared/store/items.ts -> shared/audit/record.ts': 'the audit item attributes are the audit record schema\'s own fields',
};

function layerOf(path: string): number | undefined {
  let best: { layer: number; length: number } | undefined;
  LAYERS.forEach((prefixes, layer) => {
    for (const p of prefixes) if (path.startsWith(p) && (!best || p.length > best.length)) best = { layer, length: p.length };
  });
  return best?.layer;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The value (non-type-only) imports of a module, as repository paths. */
function valueImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^import\s+(type\s+)?([^'"]*?)\s*from\s+'([^']+)';/gms)) {
    const [, typeOnly, clause = '', spec = ''] = m;
    if (typeOnly) continue;
    const names = /\{([^}]*)\}/.exec(clause)?.[1];
    const onlyTypes = names !== undefined && !/^[^{]*\w/.test(clause.replace(/\{[^}]*\}/, '')) && names.split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '));
    if (onlyTypes) continue;
    let target: string | undefined;
    if (spec.startsWith('#shared/')) target = `shared/${spec.slice(8)}.ts`;
    else if (spec.startsWith('#functions/')) target = `functions/${spec.slice(11)}.ts`;
    else if (spec.startsWith('.')) target = relative(process.cwd(), normalize(join(dirname(file), spec)));
    if (target) out.push(target);
  }
  return out;
}

function upwardImports(): string[] {
  const root = process.cwd();
  const out: string[] = [];
  for (const file of [...filesUnder(join(root, 'shared')), ...filesUnder(join(root, 'functions'))]) {
    const from = relative(root, file);
    const fromLayer = layerOf(from);
    for (const to of valueImports(file)) {
      const toLayer = layerOf(to);
      if (fromLayer !== undefined && toLayer !== undefined && toLayer > fromLayer) out.push(`${from} -> ${to}`);
    }
  }
  return out.sort();
}

describe('layers', () => {
  it('places every module of shared/ and functions/ in a layer', () => {
    const root = process.cwd();
    const unplaced = [...filesUnder(join(root, 'shared')), ...filesUnder(join(root, 'functions'))].map((f) => relative(root, f)).filter((f) => layerOf(f) === undefined);
    expect(unplaced).toEqual([]);
  });

  it('has no upward import but the listed ones', () => {
    expect(upwardImports().filter((i) => !(i in ALLOWED))).toEqual([]);
  });

  it('lists no exception that is no longer needed', () => {
    const found = new Set(upwardImports());
    expect(Object.keys(ALLOWED).filter((i) => !found.has(i))).toEqual([]);
  });
});
