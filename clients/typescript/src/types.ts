/**
 * Types derived from the generated document types (schema.d.ts, written by scripts/generate.ts
 * with openapi-typescript's defaults). Nothing here is written by hand per route: when the
 * document changes, regenerating schema.d.ts changes these.
 */
import type { components, operations } from './schema.d.ts';

/** An operation of the document, named by its operationId (`createAgent`, `listAuditRecords`, …). */
export type OperationId = keyof operations;

/** A named schema of the document (`Agent`, `AuthProfile`, `Run`, …). */
export type Schema<N extends keyof components['schemas']> = components['schemas'][N];

type JsonContent<T> = T extends { content: { 'application/json': infer B } } ? B : never;

/** The JSON request body of an operation (`never` when it takes none). */
export type RequestBody<Op extends OperationId> = operations[Op] extends { requestBody: infer R } ? JsonContent<NonNullable<R>> : never;

/** The path parameters of an operation. */
export type PathParams<Op extends OperationId> = operations[Op]['parameters'] extends { path: infer P }
  ? P extends Record<string, unknown>
    ? P
    : never
  : never;

/**
 * A query value as it goes on the wire. Parameters the document types as a plain `string` (it
 * renders `limit` and `force` so today) also take a number or a boolean, since every query value
 * is sent as its string form; enums and numbers keep their types.
 */
type QueryValue<V> = V extends string ? (string extends V ? string | number | boolean : V) : V;
type Widen<Q> = { [K in keyof Q]?: QueryValue<NonNullable<Q[K]>> };

/** The query parameters of an operation (all optional). */
export type QueryParams<Op extends OperationId> = operations[Op]['parameters'] extends { query?: infer Q }
  ? NonNullable<Q> extends Record<string, unknown>
    ? Widen<NonNullable<Q>>
    : never
  : never;

type Responses<Op extends OperationId> = operations[Op]['responses'];
type SuccessStatus<Op extends OperationId> = Extract<keyof Responses<Op>, 200 | 201 | 202 | 204>;
type ErrorStatus<Op extends OperationId> = Exclude<Extract<keyof Responses<Op>, number>, SuccessStatus<Op>>;

/** The success answer of an operation (`undefined` for a 204). */
export type ResponseBody<Op extends OperationId> = {
  [S in SuccessStatus<Op>]: S extends 204
    ? undefined
    : [JsonContent<Responses<Op>[S]>] extends [never]
      ? unknown
      : JsonContent<Responses<Op>[S]>;
}[SuccessStatus<Op>];

/** The error bodies an operation documents, `{error: {code, message, …}}`. */
export type ErrorBodyOf<Op extends OperationId> = JsonContent<Responses<Op>[ErrorStatus<Op>]>;

/**
 * The error codes an operation can answer, as the document types them: once the document gives
 * `Error.code` an enum per status, this is that union; while it is a free string, `string`.
 */
export type ErrorCodeOf<Op extends OperationId> = [ErrorBodyOf<Op>] extends [never]
  ? never
  : ErrorBodyOf<Op> extends { error: { code: infer C } }
    ? C
    : string;

/** Every error code any operation can answer (the union over all operations). */
export type ErrorCode = { [Op in OperationId]: ErrorCodeOf<Op> }[OperationId];

/** One item of a paged list answer. */
export type PageItem<Op extends OperationId, K extends keyof ResponseBody<Op>> = ResponseBody<Op>[K] extends
  | readonly (infer I)[]
  | undefined
  ? I
  : never;
