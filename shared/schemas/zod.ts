import en from 'zod/v4/locales/en.js';
import { config } from 'zod/mini';
import type { ZodMiniType, core, output } from 'zod/mini';
import { globalRegistry, parse } from 'zod/mini';

/**
 * The zod every module that runs in a Lambda function builds its schemas with: `zod/mini`, the
 * functional flavour of zod 4 (`z.optional(z.string())`, `z.string().check(z.minLength(1))`), on
 * the same core as the chained classic `zod` — the same definitions (`_zod.def`), the same parse,
 * the same JSON Schema rendering — without classic's method-per-schema builder, which is most of
 * what a function compiled at cold start (docs/architecture.md, "Input"). Import it as
 * `import * as z from './zod.ts'`, never from 'zod/mini' directly: this module is what sets the
 * error messages. (Re-exported with `export *`, not as one namespace value: a namespace that
 * escapes as a value is bundled whole, every locale included.)
 *
 * Classic zod loads its English messages by itself; mini loads none (its issues would all read
 * "Invalid input"), so the English locale is set here, once, before any schema parses: the
 * messages the API answers (parseInput in shared/schemas/common.ts) are zod's English ones.
 */
config(en());

export * from 'zod/mini';

/**
 * Classic zod's `.describe(text)`: a copy of `schema` (its parent: the metadata it inherits) that
 * carries `text` as its description in the global registry, where the JSON Schema rendering reads
 * it (shared/schemas/openapi.ts). `schema` itself is left as it was. It stands in for mini's own
 * `describe` check (this local export wins over the `export *`), which would add a check to the
 * definition and so keep the item parsers (shared/schemas/item-codec.ts) from compiling a
 * described node themselves.
 */
export function describe<S extends ZodMiniType>(schema: S, description: string): S {
  const copy = schema.clone() as S;
  globalRegistry.add(copy, { description });
  return copy;
}

/**
 * `schema.parse(value)` for a value that must fit (a stored item, a stored config): the parsed
 * value, or a throw of zod's error listing the issues. The error is named "ZodError", as classic
 * zod's is, not mini's "$ZodError": the error log's `error_name` (shared/http/middleware.ts) stays
 * what it was.
 */
export function parseOrThrow<S extends core.$ZodType>(schema: S, value: unknown): output<S> {
  try {
    return parse(schema, value);
  } catch (err) {
    if (err instanceof Error && err.name === '$ZodError') err.name = 'ZodError';
    throw err;
  }
}
