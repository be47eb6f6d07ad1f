// Issue 16 (scope 4): human-readable logs when asked (--pretty, FELIX_LOG_PRETTY=1; auto on a terminal),
// JSON lines otherwise; connections opened and closed are logged at info with their tenant and reason.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { wantsPrettyLogs } from '../../broker/logger.js';
import { connect } from '../../client/index.js';
import { until } from '../broker/raw-client.js';
import { BROKER_MAIN, spawnBroker } from './broker-process.js';

describe('broker logs', () => {
  it('are pretty on a terminal (auto), when forced (1), and never when off (0)', () => {
    expect(wantsPrettyLogs('auto', true)).toBe(true);
    expect(wantsPrettyLogs('auto', false)).toBe(false);
    expect(wantsPrettyLogs('1', false)).toBe(true);
    expect(wantsPrettyLogs('0', true)).toBe(false);
  });

  it('--pretty writes one human line per entry on a pipe, where the default is JSON', async () => {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('FELIX_')),
    );
    const child = spawn(process.execPath, [BROKER_MAIN, '--pretty'], {
      env: { ...inherited, FELIX_QUIC_BIND: '127.0.0.1:0', FELIX_BROKER_METRICS_BIND: '127.0.0.1:0' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until(() => out.includes('felix-ts broker listening'), 'the listening line', 20_000);
    } finally {
      child.kill('SIGTERM');
    }
    const line = out.split('\n').find((l) => l.includes('felix-ts broker listening'))!;
    expect(line).toMatch(/INFO/);
    expect(() => JSON.parse(line)).toThrow();
  });

  it('logs a connection opened (with its tenant) and closed (with tenant and reason) at info', async () => {
    const broker = await spawnBroker();
    const client = await connect({
      broker: `127.0.0.1:${broker.quicPort}`,
      tenant: 'acme',
      env: {},
      onWarning: () => {},
    });
    await client.publish('s', 'x');
    await client.close();
    const closed = (): Record<string, unknown>[] =>
      broker.logs.filter((l) => l.msg === 'connection closed' && l.tenant === 'acme');
    await until(() => closed().length > 0, 'a connection closed line');
    const opened = broker.logs.filter((l) => l.msg === 'connection opened');
    expect(opened[0]).toMatchObject({ level: 30, tenant: 'acme' });
    expect(opened[0]!.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(closed()[0]).toMatchObject({ level: 30, tenant: 'acme', by: 'client' });
    expect(typeof closed()[0]!.reason).toBe('string');
    expect(closed()[0]!.reason).not.toBe('');
    broker.child.kill('SIGTERM');
    await broker.exited;
  });
});
