/**
 * The zod the runtime schemas are built with (shared/schemas/zod.ts): zod/mini with the English
 * locale set once, classic's `.describe()` as a function, and `parseOrThrow`.
 */
import { execFileSync } from 'node:child_process';
import { describe as suite, expect, it } from 'vitest';
import { ApiKeyField } from '#shared/schemas/common';
import { describe, globalRegistry, parseOrThrow, strictObject, string, toJSONSchema } from '#shared/schemas/zod';

/** What `parseInput` answers for `input`, in a process that loads only the runtime schemas (no classic zod, which sets English by itself). */
function answerInFreshProcess(input: unknown): string {
  const code = `
    const { parseInput } = await import('#shared/schemas/common');
    const { CreateApiKeyBody } = await import('#shared/schemas/api-keys');
    try { parseInput(CreateApiKeyBody, ${JSON.stringify(input)}); console.log('accepted'); } catch (e) { console.log(e.message); }
  `;
  return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' }).trim();
}

suite('runtime zod (shared/schemas/zod.ts)', () => {
  it("answers zod's English messages without classic zod loaded (mini has no locale of its own)", () => {
    expect(answerInFreshProcess({ name: 5, role: 'owner' })).toBe(
      'Invalid request body: name: Invalid input: expected string, received number; role must be "admin" or "member"',
    );
    expect(answerInFreshProcess({ name: 'ops', api_key: 5 })).toBe(
      'Invalid request body: api_key: Invalid input: expected string, received number',
    );
  });

  it('describes a copy, as classic .describe() did: the schema given keeps no description, the copy renders one', () => {
    const plain = string();
    const described = describe(plain, 'A name');
    expect(described).not.toBe(plain);
    expect(globalRegistry.get(plain)).toBeUndefined();
    expect(globalRegistry.get(described)).toEqual({ description: 'A name' });
    // No check added: the definition is the plain one's (shared/schemas/item-codec.ts compiles it itself).
    expect(described._zod.def).toEqual(plain._zod.def);
    expect(toJSONSchema(strictObject({ name: described }))).toMatchObject({
      properties: { name: { type: 'string', description: 'A name' } },
    });
    expect(toJSONSchema(strictObject({ api_key: ApiKeyField }))).toMatchObject({
      properties: { api_key: { type: 'string', description: 'Tenant API key (prefer the Authorization header)' } },
    });
  });

  it('parseOrThrow returns the value, or throws an error named ZodError as classic zod did (the error log names it)', () => {
    const schema = strictObject({ a: string() });
    expect(parseOrThrow(schema, { a: 'x' })).toEqual({ a: 'x' });
    let thrown: unknown;
    try {
      parseOrThrow(schema, { a: 1 });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).name).toBe('ZodError');
    expect(JSON.parse((thrown as Error).message)).toMatchObject([
      { code: 'invalid_type', path: ['a'], message: 'Invalid input: expected string, received number' },
    ]);
  });
});
