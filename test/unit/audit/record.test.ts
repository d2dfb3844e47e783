import { describe, expect, it } from 'vitest';
import { type AuditEventInput, auditHeadProblem, auditRecordProblem, computeAuditMac, newAuditId, sealAuditHead, sealAuditRecord } from '#shared/audit/record';
import { generateServerKeyRingJson, parseServerKeyRing, rotateServerKeyRingJson } from '#shared/crypto/server-key';

const ring = parseServerKeyRing(generateServerKeyRingJson());
const AT = new Date('2026-12-01T12:00:00.000Z');
const event: AuditEventInput = {
  tenant: 'acme',
  key_id: '0123456789abcdef',
  action: 'run',
  agent_id: 'crm-bot',
  profile: 'prod',
  slot: 'ab'.repeat(16),
  generation: 2,
  status: 200,
  result: 'ok',
  source_ip: '203.0.113.7',
  request_id: 'req-1',
};

describe('sealAuditRecord', () => {
  it('adds id, time, expiry and a MAC that verifies', () => {
    const r = sealAuditRecord(ring, event, AT, 86_400);
    expect(r).toMatchObject({ ...event, at: AT.toISOString(), expires_at: AT.getTime() / 1000 + 86_400, mac_key_id: ring.current.idHex });
    expect(r.mac).toMatch(/^[0-9a-f]{64}$/);
    expect(auditRecordProblem(ring, r)).toBeUndefined();
  });

  it('keeps only schema fields, so nothing stray reaches the log', () => {
    const r = sealAuditRecord(ring, { ...event, auth_token: 'avt_secret', auth_data: { a: 'b' } } as AuditEventInput, AT, 60);
    expect(Object.keys(r)).not.toContain('auth_token');
    expect(Object.keys(r)).not.toContain('auth_data');
  });

  it('detects an edit of every covered field', () => {
    const r = sealAuditRecord(ring, event, AT, 60);
    const edits: Partial<typeof r>[] = [
      { tenant: 'globex' },
      { key_id: 'ffffffffffffffff' },
      { action: 'test' },
      { agent_id: 'other' },
      { profile: 'dev' },
      { profile: undefined },
      { slot: 'cd'.repeat(16) },
      { generation: 3 },
      { status: 403 },
      { result: 'source_ip_not_allowed' },
      { source_ip: '198.51.100.1' },
      { request_id: 'req-2' },
      { session_id: 'x' },
      { at: '2026-12-01T12:00:00.001Z' },
      { id: newAuditId(AT) },
      { expires_at: r.expires_at + 1 },
      { mac: 'f'.repeat(64) },
      { mac: 'nonsense' },
    ];
    for (const edit of edits) expect(auditRecordProblem(ring, { ...r, ...edit }), JSON.stringify(edit)).toMatch(/edited/);
  });

  it('verifies records made under an older server key after a rotation, and flags an unknown key', () => {
    const json = generateServerKeyRingJson();
    const r = sealAuditRecord(parseServerKeyRing(json), event, AT, 60);
    const rotated = parseServerKeyRing(rotateServerKeyRingJson(json).json);
    expect(rotated.current.idHex).not.toBe(r.mac_key_id);
    expect(auditRecordProblem(rotated, r)).toBeUndefined();
    expect(auditRecordProblem(parseServerKeyRing(generateServerKeyRingJson()), r)).toMatch(/not in the server key ring/);
  });

  it('uses a MAC key of its own: the same record under another key ring does not verify', () => {
    const r = sealAuditRecord(ring, event, AT, 60);
    const { mac: _m, mac_key_id: _k, ...body } = r;
    const other = parseServerKeyRing(generateServerKeyRingJson());
    expect(computeAuditMac(other.current, body)).not.toBe(r.mac);
  });
});

describe('chained records (writer, seq, prev_mac, prev_expires_at)', () => {
  const link = { writer: '0123456789abcdef', seq: 2, prev_mac: 'ab'.repeat(32), prev_expires_at: 1_800_000_000 };

  it('verifies, and detects the link edited or stripped', () => {
    const r = sealAuditRecord(ring, event, AT, 60, link);
    expect(auditRecordProblem(ring, r)).toBeUndefined();
    const edits: Partial<typeof r>[] = [
      { writer: 'fedcba9876543210' },
      { seq: 3 },
      { prev_mac: 'cd'.repeat(32) },
      { prev_expires_at: 1_700_000_000 },
      { writer: undefined, seq: undefined, prev_mac: undefined, prev_expires_at: undefined },
    ];
    for (const edit of edits) expect(auditRecordProblem(ring, { ...r, ...edit }), JSON.stringify(edit)).toMatch(/edited/);
  });

  it("seals a head naming the record's writer, sequence, id and MAC, and detects it edited", () => {
    const r = sealAuditRecord(ring, event, AT, 60, link);
    const head = sealAuditHead(ring, { ...r, ...link });
    expect(head).toMatchObject({ tenant: 'acme', writer: link.writer, seq: 2, last_id: r.id, last_mac: r.mac, expires_at: r.expires_at });
    expect(auditHeadProblem(ring, head)).toBeUndefined();
    for (const edit of [{ seq: 1 }, { last_mac: 'cd'.repeat(32) }, { last_id: 'x' }, { expires_at: 1 }, { tenant: 'globex' }, { writer: 'ff' }]) {
      expect(auditHeadProblem(ring, { ...head, ...edit }), JSON.stringify(edit)).toMatch(/edited/);
    }
  });
});

describe('newAuditId', () => {
  it("sorts by time, keeps a process's order within a millisecond, and never repeats", () => {
    const ids = Array.from({ length: 1000 }, () => newAuditId(AT));
    expect(new Set(ids).size).toBe(1000);
    expect([...ids].sort()).toEqual(ids);
    expect(newAuditId(new Date(AT.getTime() + 1)) > newAuditId(AT)).toBe(true);
  });
});
