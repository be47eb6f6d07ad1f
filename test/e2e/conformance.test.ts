// `npm run conformance` against the broker as users run it: the kit (dist/conformance/main.js, built by
// `npm test`) is its own process, speaking to the broker process over real QUIC, as a third party would.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { spawnBroker } from './broker-process.js';

const KIT_MAIN = fileURLToPath(new URL('../../dist/conformance/main.js', import.meta.url));
// The kit bounds every expectation itself; this only stops a runaway child from outliving the test.
const KIT_LIMIT_MS = 150_000;

interface KitRun {
  readonly code: number | null;
  readonly lines: string[];
  readonly stderr: string;
}

function runKit(args: readonly string[]): Promise<KitRun> {
  const child = spawn(process.execPath, [KIT_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const limit = setTimeout(() => child.kill('SIGKILL'), KIT_LIMIT_MS);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(limit);
      resolve({ code, lines: stdout.split('\n').filter((l) => l !== ''), stderr });
    }),
  );
}

describe('the conformance kit against the broker process', () => {
  it('passes every check, and the broker outlives all of them', async () => {
    const broker = await spawnBroker();
    const target = ['--broker', `127.0.0.1:${broker.quicPort}`];
    const listed = (await runKit([...target, '--list'])).lines;
    expect(listed.length).toBeGreaterThan(50);

    const run = await runKit(target);
    const summary = run.lines.at(-1);
    const results = run.lines.slice(0, -1);
    // On failure the FAIL lines (each with its reason) are what the assertion prints.
    expect(
      results.filter((l) => !l.startsWith('PASS ')),
      `checks that failed${run.stderr === '' ? '' : ` (kit stderr: ${run.stderr})`}`,
    ).toEqual([]);
    expect(results.map((l) => /^PASS (\S+)/.exec(l)?.[1])).toEqual(listed);
    expect(summary).toBe(`${listed.length} passed, 0 failed`);
    expect(run.code).toBe(0);
    expect(broker.child.exitCode).toBeNull();
  }, 180_000);

  it('reports a broken promise as FAIL with its reason, and exits 1', async () => {
    const broker = await spawnBroker();
    // Told the broker's frame limit is 4 KiB, the kit's over-long frame is in fact within the broker's
    // 16 MiB: it is answered as malformed JSON, not limit_exceeded, which the kit must call a failure.
    const run = await runKit([
      '--broker',
      `127.0.0.1:${broker.quicPort}`,
      '--only',
      'errors.oversized_frame,auth.no_client_flags_plain_ok',
      '--max-frame-bytes',
      '4096',
    ]);
    expect(run.lines).toEqual([
      'PASS auth.no_client_flags_plain_ok',
      expect.stringMatching(/^FAIL errors\.oversized_frame: expected code limit_exceeded .*invalid_request/),
      '1 passed, 1 failed',
    ]);
    expect(run.code).toBe(1);
  });

  it('prints one JSON object per check and a summary object with --json', async () => {
    const broker = await spawnBroker();
    const run = await runKit([
      '--broker',
      `127.0.0.1:${broker.quicPort}`,
      '--json',
      '--only',
      'cache.put_get_delete_*',
    ]);
    expect(run.lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { check: 'cache.put_get_delete_json', result: 'PASS', ms: expect.any(Number) },
      { check: 'cache.put_get_delete_msgpack', result: 'PASS', ms: expect.any(Number) },
      { passed: 2, failed: 0 },
    ]);
    expect(run.code).toBe(0);
  });

  it('exits 2 without running a check when no broker answers', async () => {
    // A port nothing listens on: the kit's first handshake times out.
    const run = await runKit(['--broker', '127.0.0.1:9', '--timeout-ms', '300']);
    expect(run.lines).toEqual([]);
    expect(run.stderr).toMatch(/no broker at 127\.0\.0\.1:9/);
    expect(run.code).toBe(2);
  });
});
