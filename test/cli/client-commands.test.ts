// `felix-ts broker`, `pub`, `sub` and `cache` as users run them: separate processes of the built program,
// against a broker started with `felix-ts broker` and its flags, over real QUIC on loopback.
import { spawn, spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { felix, felixInBackground, startCliBroker, type CliBroker } from './cli-process.js';
import { CLI_MAIN } from './run-cli.js';

let broker: CliBroker;
beforeAll(async () => {
  broker = await startCliBroker();
});

const at = (): string[] => ['--broker', broker.address];

/** `felix-ts sub …` in the background, resolved once it says it is subscribed. */
async function subscriber(...args: string[]) {
  const run = felixInBackground(['sub', ...args, ...at()]);
  await run.waitFor('stderr', /subscribed to \S+ from \S+/);
  return run;
}

async function expectOk(args: string[], input?: string | Uint8Array) {
  const run = await felix(args, { input });
  if (run.code !== 0) throw new Error(`felix-ts ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return run;
}

describe('felix-ts broker', () => {
  it('started the broker with the flags given (its QUIC and HTTP ports as asked: ephemeral, loopback)', () => {
    expect(broker.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(broker.address).not.toBe('127.0.0.1:0');
    expect(broker.run.child.exitCode).toBeNull();
  });
});

describe('felix-ts pub → felix-ts sub', () => {
  it('round-trips messages between two CLI processes, each line an offset and its payload', async () => {
    const sub = await subscriber('roundtrip', '--count', '3');
    const pub = await expectOk(['pub', 'roundtrip', 'order {{seq}}', '--count', '3', ...at()]);
    expect(pub.stderr).toContain('published 3 messages (21 bytes) to t1/default/roundtrip, ack per_message');
    expect(await sub.exited).toBe(0);
    expect(sub.output.stdout).toBe('0\torder 1\n1\torder 2\n2\torder 3\n');
  });

  it('publishes each line of standard input with -, and sub --from earliest replays them', async () => {
    await expectOk(['pub', 'lines', '-', ...at()], 'first line\nsecond line\n\nfourth, after an empty one\n');
    const sub = await felix(['sub', 'lines', '--from', 'earliest', '--count', '4', ...at()]);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toBe('0\tfirst line\n1\tsecond line\n2\t\n3\tfourth, after an empty one\n');
  });

  it('--count limits the lines taken from standard input', async () => {
    const pub = await expectOk(['pub', 'limited', '-', '--count', '2', ...at()], 'a\nb\nc\n');
    expect(pub.stderr).toContain('published 2 messages');
    const sub = await felix(['sub', 'limited', '--from', 'earliest', '--count', '2', ...at()]);
    expect(sub.stdout).toBe('0\ta\n1\tb\n');
  });

  it.each([['none'], ['per_batch']])('delivers every message in order with --ack %s', async (ack) => {
    const stream = `ack-${ack.replace('_', '-')}`;
    const pub = await expectOk([
      'pub',
      stream,
      'm{{seq}}',
      '--count',
      '100',
      '--ack',
      ack,
      '--batch',
      '16',
      ...at(),
    ]);
    expect(pub.stderr).toContain(`published 100 messages`);
    const sub = await felix(['sub', stream, '--from', 'earliest', '--count', '100', ...at()]);
    const lines = sub.stdout.trimEnd().split('\n');
    expect(lines).toEqual(Array.from({ length: 100 }, (_, i) => `${i}\tm${i + 1}`));
  });

  it('paces with --rate and still publishes everything', async () => {
    const pub = await expectOk(['pub', 'paced', 'p{{seq}}', '--count', '5', '--rate', '50', ...at()]);
    expect(pub.stderr).toContain('published 5 messages');
    const sub = await felix(['sub', 'paced', '--from', 'earliest', '--count', '5', ...at()]);
    expect(sub.stdout.split('\n')[4]).toBe('4\tp5');
  });

  it('--from N starts at that offset; names may carry namespace and tenant', async () => {
    await expectOk(['pub', 't1/billing/invoices', 'inv{{seq}}', '--count', '4', ...at()]);
    const sub = await felix(['sub', 'billing/invoices', '--from', '2', '--count', '2', ...at()]);
    expect(sub.stdout).toBe('2\tinv3\n3\tinv4\n');
    const viaFlag = await felix([
      'sub',
      'invoices',
      '--namespace',
      'billing',
      '--from',
      '3',
      '--count',
      '1',
      ...at(),
    ]);
    expect(viaFlag.stdout).toBe('3\tinv4\n');
    // The same name in the default namespace is another stream, with offsets of its own.
    await expectOk(['pub', 'invoices', 'elsewhere', ...at()]);
    const otherNamespace = await felix(['sub', 'invoices', '--from', 'earliest', '--count', '1', ...at()]);
    expect(otherNamespace.stdout).toBe('0\telsewhere\n');
  });

  it('prints payloads that are not one line of text as base64', async () => {
    const sub = await subscriber('binary', '--count', '2');
    await expectOk(['pub', 'binary', '-', ...at()], 'two\u0007bells\n');
    await expectOk(['pub', 'binary', 'plain', ...at()]);
    expect(await sub.exited).toBe(0);
    expect(sub.output.stdout).toBe(
      `0\tbase64:${Buffer.from('two\u0007bells').toString('base64')}\n1\tplain\n`,
    );
  });

  it('fails with exit status 1 and the broker’s answer when the subscription cannot start', async () => {
    await expectOk(['pub', 'short', 'only one', ...at()]);
    const sub = await felix(['sub', 'short', '--from', '50', ...at()]);
    expect(sub.code).toBe(1);
    expect(sub.stderr).toContain('subscribe to t1/default/short failed: cursor_in_future');
  });
});

describe('felix-ts cache', () => {
  it('put, get, del and get again', async () => {
    expect((await expectOk(['cache', 'put', 'web', 'greeting', 'hello there', ...at()])).stdout).toBe('OK\n');
    expect((await expectOk(['cache', 'get', 'web', 'greeting', ...at()])).stdout).toBe('hello there\n');
    expect((await expectOk(['cache', 'del', 'web', 'greeting', ...at()])).stdout).toBe('deleted\n');
    const missing = await felix(['cache', 'get', 'web', 'greeting', ...at()]);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toContain('no value under t1/default/web key "greeting"');
    expect((await expectOk(['cache', 'delete', 'web', 'greeting', ...at()])).stdout).toBe('absent\n');
  });

  it('stores standard input byte for byte with -, and get --raw gives the same bytes back', async () => {
    const value = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) % 256);
    await expectOk(['cache', 'put', 'blobs', 'b1', '-', ...at()], value);
    const got = await felix(['cache', 'get', 'blobs', 'b1', '--raw', ...at()]);
    expect(got.code).toBe(0);
    expect(Buffer.compare(got.bytes, Buffer.from(value))).toBe(0);
  });

  it('on a terminal, shows a value that is not text quoted with escapes (as redis-cli), text as it is', async (context) => {
    // A pseudo-terminal for stdout: util-linux's script(1) runs the command on one.
    if (spawnSync('script', ['--version']).status !== 0) {
      console.warn('skipped: script(1) from util-linux is not installed, so no pseudo-terminal can be made');
      context.skip();
    }
    const onTerminal = (...args: string[]): string => {
      const command = [process.execPath, CLI_MAIN, ...args, ...at()].map((a) => `'${a}'`).join(' ');
      return spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'latin1' }).stdout;
    };
    await expectOk(
      ['cache', 'put', 'blobs', 'bin', '-', ...at()],
      Uint8Array.from([0x8d, 0x70, 0x33, 0x0d, 0x2a, 0x47, 0x1b, 0x5b, 0x22]),
    );
    expect(onTerminal('cache', 'get', 'blobs', 'bin')).toContain('"\\x8dp3\\r*G\\x1b[\\""');
    await expectOk(['cache', 'put', 'blobs', 'text', 'two\tcolumns', ...at()]);
    expect(onTerminal('cache', 'get', 'blobs', 'text')).toContain('two\tcolumns');
    // Piped, the bytes as they are (what a script reads), and --raw on a terminal too.
    expect((await felix(['cache', 'get', 'blobs', 'bin', ...at()])).bytes.subarray(0, 9)).toEqual(
      Buffer.from([0x8d, 0x70, 0x33, 0x0d, 0x2a, 0x47, 0x1b, 0x5b, 0x22]),
    );
    expect(onTerminal('cache', 'get', 'blobs', 'bin', '--raw')).not.toContain('\\x8d');
  });

  it('keeps namespaces apart and takes --ttl', async () => {
    await expectOk(['cache', 'put', 'app/settings', 'mode', 'dark', '--ttl', '10m', ...at()]);
    expect((await expectOk(['cache', 'get', 'settings', 'mode', '--namespace', 'app', ...at()])).stdout).toBe(
      'dark\n',
    );
    expect((await felix(['cache', 'get', 'settings', 'mode', ...at()])).code).toBe(1);
  });

  it('quotes an over-long key cut short, as the SDK and the broker do, in its one failure line', async () => {
    const key = 'k'.repeat(4097); // over FELIX_CACHE_MAX_KEY_BYTES (4 KiB)
    const run = await felix(['cache', 'put', 'web', key, 'v', ...at()]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cache put of t1/default/web key "${'k'.repeat(64)}…(4097 bytes)" failed: `);
    expect(run.stderr).not.toContain('k'.repeat(65));
  });

  it('an expired entry is gone', async () => {
    await expectOk(['cache', 'put', 'web', 'brief', 'soon gone', '--ttl', '1ms', ...at()]);
    // Bounded: the broker's expiry is checked on read, so the entry is gone once 1 ms has passed.
    let code = 0;
    for (let attempt = 0; attempt < 20 && code === 0; attempt++) {
      code = (await felix(['cache', 'get', 'web', 'brief', ...at()])).code;
    }
    expect(code).toBe(1);
  });
});

describe('felix-ts sub shows gaps', () => {
  it('names every offset the broker dropped for a subscriber that stopped reading', async () => {
    // A tiny drop_old queue, and little buffering anywhere between it and the subscriber's stdout.
    const lossy = await startCliBroker([
      '--sub-queue-capacity',
      '8',
      '--sub-queue-policy',
      'drop_old',
      '--slow-sub-max-full-ms',
      '0',
      '--slow-sub-max-drops',
      '0',
      '--event-send-window',
      '128KiB',
    ]);
    const where = ['--broker', lossy.address];
    // The subscriber is stopped (SIGSTOP) while the events are published, so it takes none of them and the
    // broker's queue overflows. (Not reading its stdout is not enough: Node buffers writes to a full pipe,
    // and a subscriber quick enough keeps up with the whole publish.)
    const sub = spawn(process.execPath, [CLI_MAIN, 'sub', 'gappy', ...where], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        FELIX_EVENT_STREAM_RECV_WINDOW: '64KiB',
        FELIX_EVENT_CONN_RECV_WINDOW: '128KiB',
      },
    });
    let stderr = '';
    sub.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    for (let attempt = 0; attempt < 600 && !stderr.includes('subscribed to'); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(stderr).toContain('subscribed to t1/default/gappy');
    // 2 MB of events: far more than the windows and the queue together hold.
    const total = 2000;
    let stdout = '';
    sub.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    sub.kill('SIGSTOP');
    try {
      await expectOk([
        'pub',
        'gappy',
        `${'x'.repeat(1000)}{{seq}}`,
        '--count',
        String(total),
        '--ack',
        'per_batch',
        ...where,
      ]);
      await expectOk(['pub', 'gappy', 'end', ...where]);
    } finally {
      sub.kill('SIGCONT');
    }
    for (let attempt = 0; attempt < 600 && !stdout.includes('\tend\n'); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    sub.kill('SIGTERM');
    lossy.run.child.kill('SIGTERM');

    const lines = stdout.trimEnd().split('\n');
    const gaps = lines.filter((line) => line.startsWith('# gap: '));
    expect(
      gaps.length,
      `stdout ${lines.length} lines, last ${lines.at(-1)}; stderr: ${stderr.slice(-600)}`,
    ).toBeGreaterThan(0);
    // Every offset up to the marker is either printed or named by the gap line before the next event.
    const seen = new Set<number>();
    for (const line of lines) {
      const range = /^# gap: \d+ events? missed \(offsets? (\d+)(?:-(\d+))?\)$/.exec(line);
      if (range !== null) {
        for (let offset = Number(range[1]); offset <= Number(range[2] ?? range[1]); offset++)
          seen.add(offset);
      } else {
        seen.add(Number(line.split('\t')[0]));
      }
    }
    expect(lines.at(-1)).toBe(`${total}\tend`);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: total + 1 }, (_, i) => i));
  });
});
