// A broker setting that only the demo's own broker checks is still a bad setting: the broker exits 2 before
// listening with one line naming it, and the demo passes that line and the status on (docs/benchmarks.md:
// 2 for a bad flag or setting). A broker that fails for another reason is a case that could not run, 1.
// The built programs, run as a user runs them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemoProcess, startedBroker } from '../support/demo-process.js';

const LATENCY_TINY = ['--warmup', '1', '--total', '5', '--idle-ms', '2000', '--json'];
const CACHE_TINY = ['--payloads', '64', '--ops', 'put', '--keys', '1', '--warmup', '1', '--samples', '5'];
// One policy run (its own process, its own broker), as short as the flags allow.
const SLOW_TINY = ['--policies', 'block', '--no-baseline', '--duration', '1', '--warmup', '0', '--json'];

describe("a demo's broker that exits before listening", () => {
  // slowdemo's broker is started by a run's own process (slowdemo/isolated.ts): both pass the refusal on.
  it.each([
    ['latencydemo', LATENCY_TINY, 'FELIX_SUB_QUEUE_POLICY', 'drop', 'one of block, drop_new, drop_old'],
    ['slowdemo', SLOW_TINY, 'FELIX_SUB_QUEUE_CAPACITY', 'abc', 'an integer from 1 to 1048576 (events)'],
  ] as const)(
    '%s: a broker setting its broker refuses is exit 2 with the broker’s line',
    async (demo, args, name, value, allowed) => {
      const run = await runDemoProcess(demo, args, { [name]: value });
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr.trim().split('\n')).toEqual([
        `${demo}: felix-broker: Invalid ${name} (from the environment): got "${value}"; allowed: ${allowed}.`,
      ]);
      expect(run.stdout).toBe('');
      // The broker, not the demo, found it.
      expect(startedBroker(run.programs)).toBe(true);
    },
  );

  it('cachedemo: a broker setting only the broker’s start checks is exit 2 with the broker’s line', async () => {
    // The settings loader takes the path (the file exists); the broker's start finds it is not PEM.
    const dir = mkdtempSync(join(tmpdir(), 'felix-demo-cert-'));
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'not a certificate\n');
    const run = await runDemoProcess('cachedemo', [...CACHE_TINY, '--json'], {
      FELIX_TLS_CERT: notPem,
      FELIX_TLS_KEY: notPem,
    });
    expect(run.code, run.stderr).toBe(2);
    // Progress goes to stderr with --json; the reason is the last line.
    expect(run.stderr.trim().split('\n').pop()).toBe(
      `cachedemo: felix-broker: Cannot use FELIX_TLS_CERT (${notPem}): it is not PEM (no -----BEGIN line).`,
    );
    expect(run.stdout).toBe('');
    expect(startedBroker(run.programs)).toBe(true);
  });

  it('latencydemo: a broker that fails for another reason is a case that could not run, exit 1', async () => {
    // Node itself refuses the flag (exit 9): nothing the broker's settings say.
    const run = await runDemoProcess('latencydemo', [
      ...LATENCY_TINY,
      '--broker-node-flags',
      '--no-such-node-flag',
    ]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('the broker exited with code 9 before listening');
    expect(run.stdout).toBe('');
  });

  it('latencydemo: the text report of a case that could not run is nothing, not its header', async () => {
    const run = await runDemoProcess('latencydemo', [
      ...LATENCY_TINY.filter((flag) => flag !== '--json'),
      '--broker-node-flags',
      '--no-such-node-flag',
    ]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('the broker exited with code 9 before listening');
    expect(run.stdout).toBe('');
  });
});
