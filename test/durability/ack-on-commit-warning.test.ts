// FELIX_ACK_ON_COMMIT under the default periodic fsync holds every ack until the next fsync (1 s): a
// publisher with one publish in flight gets one a second. Legal and safe, so the broker starts, but says so.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLoggedBroker } from '../support/logged-broker.js';

const PERIODIC_ACKS = /^FELIX_ACK_ON_COMMIT with FELIX_DURABLE_FSYNC=periodic: each ack waits/;

async function warnings(env: Record<string, string>): Promise<Record<string, unknown>[]> {
  const dir = mkdtempSync(join(tmpdir(), 'felix-ack-warning-'));
  const { logs } = await startLoggedBroker({ FELIX_DURABLE_STORAGE_DIR: dir, ...env });
  expect(logs.some((l) => l.msg === 'felix-ts broker listening')).toBe(true);
  return logs.filter((l) => PERIODIC_ACKS.test(String(l.msg)));
}

describe('acks on commit under a periodic fsync', () => {
  it('are warned about at start, with the interval they wait for', async () => {
    const found = await warnings({ FELIX_ACK_ON_COMMIT: '1' });
    expect(found).toEqual([expect.objectContaining({ level: 40, fsyncIntervalMs: 1000 })]);
  });

  it('are not, under on_commit or none, nor without ack-on-commit', async () => {
    expect(await warnings({ FELIX_ACK_ON_COMMIT: '1', FELIX_DURABLE_FSYNC: 'on_commit' })).toEqual([]);
    expect(await warnings({ FELIX_ACK_ON_COMMIT: '1', FELIX_DURABLE_FSYNC: 'none' })).toEqual([]);
    expect(await warnings({})).toEqual([]);
  });
});
