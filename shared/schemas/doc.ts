import type * as z from './zod.ts';

/**
 * How the OpenAPI document (shared/schemas/openapi.ts) shows a schema whose JSON Schema rendering
 * would say less than it checks: a transform renders as `{}` (any value) in answers, and a
 * text-to-value query parameter as the text it is sent as. The JSON given here replaces the
 * rendering (its description kept); validation is the zod schema's, unchanged.
 */
const DOCUMENTED = new WeakMap<object, Readonly<Record<string, unknown>>>();

/** Marks `schema` to be shown as `json` in the document; returns the schema itself. */
export function documentedAs<S extends z.core.$ZodType>(schema: S, json: Readonly<Record<string, unknown>>): S {
  DOCUMENTED.set(schema, json);
  return schema;
}

/** The JSON a schema is documented as, if it was marked. */
export const documentedJson = (schema: object): Readonly<Record<string, unknown>> | undefined => DOCUMENTED.get(schema);
