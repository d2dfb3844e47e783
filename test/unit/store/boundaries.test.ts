import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The store boundary (shared/store/types.ts), checked on the source text: persistence is reached
 * through Deps.store, and only the DynamoDB implementation knows it is DynamoDB. A new import
 * outside the allowed places fails here, naming the file.
 */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const LIB_DYNAMODB = /from '@aws-sdk\/lib-dynamodb'/;
const importers = (files: string[], what: RegExp) => files.filter((f) => what.test(readFileSync(f, 'utf8')));
const production = [...sources('shared'), ...sources('functions'), ...sources('infra')];

describe('store boundaries', () => {
  it('imports @aws-sdk/lib-dynamodb in production code only in the DynamoDB implementation (repositories/, clients.ts)', () => {
    const outside = importers(production, LIB_DYNAMODB).filter((f) => !f.startsWith('shared/repositories/') && f !== 'shared/clients.ts');
    expect(outside).toEqual([]);
  });

  it('reaches the repositories only through store/dynamodb.ts', () => {
    const direct = importers(production, /from '[./#a-z]*repositories\//).filter(
      (f) => !f.startsWith('shared/repositories/') && f !== 'shared/store/dynamodb.ts',
    );
    expect(direct).toEqual([]);
  });

  it('keeps the rest of shared/store (interfaces, in-memory implementation, shared item shapes) free of DynamoDB code', () => {
    const storeFiles = sources('shared/store').filter((f) => f !== 'shared/store/dynamodb.ts');
    expect(importers(storeFiles, /from '[^']*(@aws-sdk|repositories\/|clients\.ts)/)).toEqual([]);
  });

  it('lets unit tests import @aws-sdk/lib-dynamodb only to stub the DynamoDB implementation with aws-sdk-client-mock', () => {
    const unmocked = importers(sources('test/unit'), LIB_DYNAMODB).filter((f) => !/aws-sdk-client-mock/.test(readFileSync(f, 'utf8')));
    expect(unmocked).toEqual([]);
  });

  it('runs the bench over the store interfaces: no DynamoDB commands of its own (cold-start only bundles the client as its floor)', () => {
    const benchFiles = sources('test/bench').filter((f) => f !== 'test/bench/cold-start.ts');
    expect(importers(benchFiles, LIB_DYNAMODB)).toEqual([]);
  });

  it('keeps shared/deps.ts types-only, over the Store rather than a database client', () => {
    const text = readFileSync('shared/deps.ts', 'utf8');
    expect(text.match(/^import (?!type )/m)).toBeNull();
    expect(text.match(/^export (?!interface|type )/m)).toBeNull();
    expect(text).not.toMatch(/clients\.ts/);
  });
});
