import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The store boundary (shared/store/types.ts), checked on the source text: persistence is reached
 * through Deps.store, only the DynamoDB implementation knows it is DynamoDB, and it is the only
 * implementation in production code: the in-memory twin and every other double or meter live
 * under test/, which production code never imports. A new import outside the allowed places
 * fails here, naming the file.
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

  it('keeps production code from importing anything under test/ (the in-memory store, doubles, meters)', () => {
    const fromTests = importers(production, /from '(#test\/|(\.\.\/)+test\/)/);
    expect(fromTests).toEqual([]);
    expect(sources('shared/store').map((f) => f.replace(/^.*\//, ''))).not.toContain('memory.ts');
  });

  it('signs in one place: every repository that writes or reads items takes the signer (shared/store/signer.ts)', () => {
    // index-profiles only adds the name-index keys, which are outside every MAC (they order a
    // listing whose items are verified when read): it has nothing to sign or verify.
    const unsigned = sources('shared/repositories')
      .filter((f) => !/audit|rate-limits|batch|conditional|pagination|index-profiles/.test(f))
      .filter((f) => !/signer: ItemSigner/.test(readFileSync(f, 'utf8')));
    expect(unsigned).toEqual([]);
    // No item schema is parsed in a repository outside the signer (a parse there would skip the MAC check).
    const parsing = importers(
      sources('shared/repositories').filter((f) => !/audit/.test(f)),
      /(AgentItem|ProfileItem|ProfileNameItem|ApiKeyItem|ApiKeyIndexItem|RunItem|RunJobItem|GrantItem|SessionItem|OAuthTokenItem)\.parse\(/,
    );
    expect(parsing).toEqual([]);
  });

  it('keeps the rest of shared/store (interfaces, signer, shared item shapes) free of DynamoDB code', () => {
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
