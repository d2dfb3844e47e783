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

describe('computeAuditMac', () => {
  // Computed before its input was built field by field (shared/audit/record.ts): stored records must keep verifying.
  const fixed = parseServerKeyRing(JSON.stringify({ current: 'k1', k1: 'fixed-test-material-for-the-audit-mac-vector-0123456789' }));
  const base = {
    id: '0190000000000000abcdefabcdef',
    at: '2026-12-01T12:00:00.000Z',
    expires_at: 1800000000,
    tenant: 'acme',
    key_id: 'k1',
    action: 'run' as const,
    agent_id: 'bot',
    profile: 'prod ✓',
    slot: 'ab',
    generation: 2,
    status: 200,
    result: 'ok',
    source_ip: '203.0.113.7',
    request_id: 'req-1',
  };

  it('keeps the MAC bytes of v1, v2 and v3 records', () => {
    expect(computeAuditMac(fixed.current, base)).toBe('a3bf48d6c229eadcf1494e4b1a445a3f0820cc41535d3734ec59e77f7bd1daaa');
    expect(computeAuditMac(fixed.current, { ...base, action: 'share', principal: 'role:member', permission: 'read' })).toBe(
      '947cd54f8333e4bc5e67f012a38db9e08a66d6feceb6762d439636fdb777c7c9',
    );
    expect(
      computeAuditMac(fixed.current, {
        ...base,
        session_id: 's',
        writer: 'w1',
        seq: 3,
        prev_mac: 'ff'.repeat(32),
        prev_expires_at: 1799999999,
      }),
    ).toBe('a81cfb96e5f0768d13fb208864edd0873cfc02d3bb69c209fdb4caa22fd27766');
  });

  it("refuses an event the schema refuses, with zod's error", () => {
    expect(() => sealAuditRecord(ring, { ...event, status: 'ok' } as unknown as AuditEventInput, AT, 60)).toThrow(/status/);
    expect(() => sealAuditRecord(ring, event, AT, 60, { writer: 'w', seq: 1.5 })).toThrow(/seq/);
  });
});
