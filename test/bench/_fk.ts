import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { FakeDocClient } from './lib/fake-doc.ts';

const f = new FakeDocClient();
const fields: Record<string, Buffer> = {};
for (let i = 0; i < 10; i++) fields[`f${i}`] = randomBytes(83);
const item = {
  pk: 'TENANT#acme#AGENT#a',
  sk: 'x',
  entity: 'profile',
  tenant: 'acme',
  agent_id: 'a',
  name: 'n',
  slot: 's',
  generation: 1,
  record_version: 1,
  server_key_id: 'k',
  verifier: randomBytes(32),
  commitment: randomBytes(32),
  fields,
  should_save_session: false,
  created_at: 'c',
  updated_at: 'u',
  use_count: 0,
};
for (const round of [0, 1]) {
  let t = performance.now();
  for (let i = 0; i < 5000; i++)
    await f.send(
      new PutCommand({ TableName: 't', Item: { ...item, sk: `p${round}-${i}` }, ConditionExpression: 'attribute_not_exists(pk)' }),
    );
  console.log('put µs', ((performance.now() - t) * 1000) / 5000);
  t = performance.now();
  for (let i = 0; i < 5000; i++) await f.send(new GetCommand({ TableName: 't', Key: { pk: item.pk, sk: `p${round}-${i}` } }));
  console.log('get µs', ((performance.now() - t) * 1000) / 5000);
  t = performance.now();
  for (let i = 0; i < 5000; i++) structuredClone(item);
  console.log('clone µs', ((performance.now() - t) * 1000) / 5000);
  t = performance.now();
  for (let i = 0; i < 5000; i++)
    await f.send(
      new UpdateCommand({
        TableName: 't',
        Key: { pk: item.pk, sk: `p${round}-${i}` },
        UpdateExpression: 'SET #fields = :fields, verifier = :verifier, record_version = :next',
        ConditionExpression: 'generation = :g AND record_version = :rv',
        ExpressionAttributeNames: { '#fields': 'fields' },
        ExpressionAttributeValues: { ':fields': fields, ':verifier': item.verifier, ':next': 2, ':g': 1, ':rv': 1 },
      }),
    );
  console.log('update µs', ((performance.now() - t) * 1000) / 5000);
}

import { evaluateCondition } from './lib/expressions.ts';
import { copyValue } from './lib/fake-doc.ts';

{
  let t = performance.now();
  for (let i = 0; i < 5000; i++) new PutCommand({ TableName: 't', Item: item, ConditionExpression: 'attribute_not_exists(pk)' });
  console.log('new PutCommand µs', ((performance.now() - t) * 1000) / 5000);
  t = performance.now();
  for (let i = 0; i < 5000; i++) copyValue(item);
  console.log('copyValue µs', ((performance.now() - t) * 1000) / 5000);
  t = performance.now();
  for (let i = 0; i < 5000; i++) evaluateCondition('generation = :g AND record_version = :rv', item, undefined, { ':g': 1, ':rv': 1 });
  console.log('cond µs', ((performance.now() - t) * 1000) / 5000);
}
