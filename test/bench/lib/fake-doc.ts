import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { applyUpdate, evaluateCondition, type Item, project } from './expressions.ts';

/**
 * A trivial in-memory stand-in for the DynamoDB *document* client: an object with `send(command)`
 * for the lib-dynamodb commands the repositories build (Get, Put, Update, Delete, Query,
 * BatchGet, BatchWrite) over a Map, enforcing their condition expressions. Installed as
 * `db.doc`, it lets the bench measure the vault's own per-request cost without any store I/O,
 * and it counts every command and every sequential round trip ("wave").
 *
 * Items are deep-copied on the way in and out, as marshalling would (binary values come back
 * as plain Uint8Array, like the real client returns them).
 */
/**
 * Copy of an item value: objects, arrays and sets are copied; binary values become plain
 * Uint8Array *views* of the same bytes (the real client returns Uint8Array, never Buffer; the
 * vault never writes into bytes it stored or read, so sharing them is safe and keeps the fake
 * cheap). Not structuredClone: that copies a Buffer's whole backing ArrayBuffer, often the
 * 8 KiB pool, which made the fake cost a sizeable share of a request.
 */
export function copyValue<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return (v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) as T;
  if (Array.isArray(v)) return v.map(copyValue) as T;
  if (v instanceof Set) return new Set([...v].map(copyValue)) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = copyValue((v as Record<string, unknown>)[k]);
  return out as T;
}

export class FakeDocClient {
  private readonly partitions = new Map<string, Map<string, Item>>();
  /** Commands by name since the last reset. */
  counts: Record<string, number> = {};
  /** Sequential round trips since the last reset: a command issued while none is in flight opens a new wave. */
  waves = 0;
  /** Largest number of commands in flight at once since the last reset. */
  maxInFlight = 0;
  private inFlight = 0;
  /** Time spent executing commands inside the fake (its own cost), in µs, since the last reset. */
  selfTimeUs = 0;

  /**
   * @param latency `microtask`: answer on the next microtask (pure vault cost);
   *   `immediate`: answer after setImmediate, so commands issued together overlap like real I/O.
   */
  constructor(private readonly latency: 'microtask' | 'immediate' = 'microtask') {}

  get totalCommands(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }

  resetCounters(): void {
    this.counts = {};
    this.waves = 0;
    this.maxInFlight = 0;
    this.selfTimeUs = 0;
  }

  get itemCount(): number {
    let n = 0;
    for (const p of this.partitions.values()) n += p.size;
    return n;
  }

  /** The document client interface the repositories use. */
  asDocClient(): DynamoDBDocumentClient {
    return this as unknown as DynamoDBDocumentClient;
  }

  async send(command: unknown): Promise<unknown> {
    const name = (command as { constructor: { name: string } }).constructor.name;
    this.counts[name] = (this.counts[name] ?? 0) + 1;
    if (this.inFlight === 0) this.waves++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.latency === 'immediate') await new Promise((r) => setImmediate(r));
      const t0 = performance.now();
      try {
        return this.execute(command);
      } finally {
        this.selfTimeUs += (performance.now() - t0) * 1000;
      }
    } finally {
      this.inFlight--;
    }
  }

  private get(pk: string, sk: string): Item | undefined {
    return this.partitions.get(pk)?.get(sk);
  }

  private put(item: Item): void {
    const pk = item.pk as string;
    let p = this.partitions.get(pk);
    if (!p) {
      p = new Map();
      this.partitions.set(pk, p);
    }
    p.set(item.sk as string, item);
  }

  private delete(pk: string, sk: string): void {
    const p = this.partitions.get(pk);
    p?.delete(sk);
    if (p?.size === 0) this.partitions.delete(pk);
  }

  private check(
    input: {
      ConditionExpression?: string;
      ExpressionAttributeNames?: Record<string, string>;
      ExpressionAttributeValues?: Record<string, unknown>;
    },
    current: Item | undefined,
  ) {
    if (!input.ConditionExpression) return;
    if (!evaluateCondition(input.ConditionExpression, current, input.ExpressionAttributeNames, input.ExpressionAttributeValues)) {
      const err = new Error('The conditional request failed');
      err.name = 'ConditionalCheckFailedException';
      throw err;
    }
  }

  private execute(command: unknown): unknown {
    if (command instanceof GetCommand) {
      const { Key, ProjectionExpression, ExpressionAttributeNames } = command.input;
      const item = this.get(Key?.pk as string, Key?.sk as string);
      return { Item: item ? copyValue(project(item, ProjectionExpression, ExpressionAttributeNames)) : undefined };
    }
    if (command instanceof PutCommand) {
      const input = command.input;
      const item = copyValue(input.Item) as Item;
      this.check(input, this.get(item.pk as string, item.sk as string));
      this.put(item);
      return {};
    }
    if (command instanceof UpdateCommand) {
      const input = command.input;
      const pk = input.Key?.pk as string;
      const sk = input.Key?.sk as string;
      const current = this.get(pk, sk);
      this.check(input, current);
      const next: Item = current ? { ...current } : { pk, sk };
      applyUpdate(input.UpdateExpression as string, next, input.ExpressionAttributeNames, copyValue(input.ExpressionAttributeValues));
      this.put(next);
      return input.ReturnValues === 'ALL_NEW' ? { Attributes: copyValue(next) } : {};
    }
    if (command instanceof DeleteCommand) {
      const input = command.input;
      const pk = input.Key?.pk as string;
      const sk = input.Key?.sk as string;
      this.check(input, this.get(pk, sk));
      this.delete(pk, sk);
      return {};
    }
    if (command instanceof QueryCommand) {
      const input = command.input;
      const values = input.ExpressionAttributeValues ?? {};
      const m = /^pk = (:\w+)(?: AND begins_with\(sk, (:\w+)\))?$/.exec(input.KeyConditionExpression ?? '');
      if (!m) throw new Error(`fake DynamoDB: unsupported KeyConditionExpression "${input.KeyConditionExpression}"`);
      const pk = values[m[1] as string] as string;
      const prefix = m[2] ? (values[m[2]] as string) : '';
      const start = input.ExclusiveStartKey?.sk as string | undefined;
      const sks = [...(this.partitions.get(pk)?.keys() ?? [])]
        .filter((sk) => sk.startsWith(prefix) && (start === undefined || sk > start))
        .sort();
      const limit = input.Limit ?? Number.POSITIVE_INFINITY;
      const page = sks.slice(0, limit);
      const Items = page.map((sk) =>
        copyValue(project(this.get(pk, sk) as Item, input.ProjectionExpression, input.ExpressionAttributeNames)),
      );
      const last = page.length === limit && sks.length > limit ? { pk, sk: page[page.length - 1] } : undefined;
      return { Items, Count: Items.length, LastEvaluatedKey: last };
    }
    if (command instanceof BatchGetCommand) {
      const Responses: Record<string, Item[]> = {};
      for (const [table, req] of Object.entries(command.input.RequestItems ?? {})) {
        Responses[table] = (req.Keys ?? [])
          .map((k) => this.get(k.pk as string, k.sk as string))
          .filter((i): i is Item => i !== undefined)
          .map((i) => copyValue(i));
      }
      return { Responses, UnprocessedKeys: {} };
    }
    if (command instanceof BatchWriteCommand) {
      for (const reqs of Object.values(command.input.RequestItems ?? {})) {
        for (const r of reqs) {
          if (r.PutRequest) this.put(copyValue(r.PutRequest.Item) as Item);
          else if (r.DeleteRequest) this.delete(r.DeleteRequest.Key?.pk as string, r.DeleteRequest.Key?.sk as string);
        }
      }
      return { UnprocessedItems: {} };
    }
    throw new Error(`fake DynamoDB: unsupported command ${(command as object).constructor.name}`);
  }
}
