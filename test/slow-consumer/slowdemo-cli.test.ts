// The built slowdemo (dist/slowdemo/main.js, built by `npm test`) refusing a bad flag as the other demos do.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBrokerEnvironment } from '../../slowdemo/run.js';
import { expectUsageError, runDemoProcess } from '../support/demo-process.js';

const MAIN = fileURLToPath(new URL('../../dist/slowdemo/main.js', import.meta.url));

describe('slowdemo flags', () => {
  it('refuses an unusable --broker address with one line naming the flag and exit 2, before running', async () => {
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [MAIN, '--broker', 'nohost:abc'], (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr }),
      );
    });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([
      "error: option '--broker <host:port>' argument 'nohost:abc' is invalid. expected host:port such as " +
        '127.0.0.1:5000, broker.internal:5000 or [::1]:5000',
    ]);
  });

  // Flags the run would drop without a word: a stalled subscriber spends no time per event, and a --broker
  // keeps its own queue policy.
  it.each([
    [['--stall', '--slow-ms', '50'], "error: option '--stall' cannot be used with option '--slow-ms <ms>'"],
    [
      ['--jitter-ms', '0', '--stall'],
      "error: option '--stall' cannot be used with option '--jitter-ms <ms>'",
    ],
    [
      ['--broker', '127.0.0.1:9', '--policies', 'drop_new'],
      "error: option '--policies <list>' cannot be used with option '--broker <host:port>'",
    ],
  ])('refuses %j with one line and exit 2, before starting anything', async (args, message) => {
    expectUsageError(await runDemoProcess('slowdemo', [...args, '--duration', '1', '--warmup', '0']), [
      message,
    ]);
  });

  it("refuses a FELIX_SUB_QUEUE_POLICY that each policy run's broker would replace", async () => {
    const run = await runDemoProcess('slowdemo', ['--duration', '1', '--warmup', '0'], {
      FELIX_SUB_QUEUE_POLICY: 'drop_new',
    });
    expectUsageError(run, [
      "slowdemo: FELIX_SUB_QUEUE_POLICY=drop_new in the environment, but each run's broker takes its policy " +
        'from --policies (block,drop_new,drop_old): unset it, or give --policies drop_new',
    ]);
  });

  // Its brokers log at info at least (their "listening" line gives the ports), and as verbosely as asked.
  it.each([
    [undefined, 'info'],
    ['warn', 'info'],
    ['debug', 'debug'],
    ['trace', 'trace'],
  ])('a run broker started under FELIX_LOG_LEVEL=%s logs at %s', (given, expected) => {
    const env = given === undefined ? {} : { FELIX_LOG_LEVEL: given };
    expect(runBrokerEnvironment(env, 'drop_new')).toEqual({
      FELIX_QUIC_BIND: '127.0.0.1:0',
      FELIX_BROKER_METRICS_BIND: '127.0.0.1:0',
      FELIX_LOG_LEVEL: expected,
      FELIX_SUB_QUEUE_POLICY: 'drop_new',
    });
  });
});
