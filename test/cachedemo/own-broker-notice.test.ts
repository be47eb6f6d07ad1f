// The SDK's notice that it accepts any certificate from a loopback broker without FELIX_TLS_CA is left out
// for the broker a demo started itself (expected there, it would only bury the warnings that matter) and
// given for a --broker, in both demos alike (latencydemo/own-broker-notice.ts). The built programs.
import { describe, expect, it } from 'vitest';
import { spawnBroker } from '../e2e/broker-process.js';
import { runDemoProcess } from '../support/demo-process.js';

const NOTICE = 'no CA given (FELIX_TLS_CA): accepting any certificate from loopback address 127.0.0.1';
const TINY = {
  cachedemo: ['--payloads', '64', '--ops', 'put', '--keys', '1', '--warmup', '1', '--samples', '5'],
  latencydemo: ['--warmup', '1', '--total', '5', '--idle-ms', '2000'],
} as const;

describe('the loopback certificate notice', () => {
  it.each(['cachedemo', 'latencydemo'] as const)('%s leaves it out for its own broker', async (demo) => {
    const run = await runDemoProcess(demo, TINY[demo]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout + run.stderr).not.toContain('accepting any certificate');
  });

  it.each(['cachedemo', 'latencydemo'] as const)('%s gives it for a --broker', async (demo) => {
    // Stopped after the test by broker-process.ts.
    const broker = await spawnBroker();
    const run = await runDemoProcess(demo, [...TINY[demo], '--broker', `127.0.0.1:${broker.quicPort}`]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout + run.stderr).toContain(NOTICE);
  });
});
