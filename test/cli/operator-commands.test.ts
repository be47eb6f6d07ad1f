// `felix-ts status` against a loaded broker, `felix-ts bench …`, and the whole command line's usage
// errors (exit status 2), help texts and --version, as the built program.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { felix, felixInBackground, startCliBroker, type CliBroker } from './cli-process.js';

const packageVersion = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

let broker: CliBroker;
beforeAll(async () => {
  broker = await startCliBroker();
});
const at = (): string[] => ['--broker', broker.address];

async function publishedTotal(): Promise<number> {
  const text = await (await fetch(`http://${broker.metrics}/metrics`)).text();
  return Number(/^felix_published_messages_total (\d+)/m.exec(text)?.[1] ?? 0);
}

describe('felix-ts status', () => {
  it('summarises a loaded broker: connections, rates, drops, cache hit ratio', async () => {
    await felix(['cache', 'put', 'web', 'k', 'v', ...at()]);
    await felix(['cache', 'get', 'web', 'k', ...at()]);
    await felix(['cache', 'get', 'web', 'absent', ...at()]);
    // Load that outlasts the sample: a publisher paced to 200 messages/s for up to 100 s (killed after).
    const load = felixInBackground(['pub', 'load', 'x', '--count', '20000', '--rate', '200', ...at()]);
    for (let attempt = 0; attempt < 200 && (await publishedTotal()) === 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const status = await felix(['status', '--metrics', broker.metrics, '--sample', '500ms']);
    load.child.kill('SIGTERM');
    expect(status.code).toBe(0);
    const lines = status.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `felix-ts broker at http://${broker.metrics}/metrics, rates over ${lines[0].split(' over ')[1]}`,
    );
    const row = (label: string): string => lines.find((line) => line.startsWith(`${label} `)) ?? '';
    expect(row('process')).toMatch(/up \S+, rss [\d.]+ MiB, cpu \d+%, event-loop lag p99 [\d.]+ ms/);
    expect(row('connections')).toMatch(/^connections +[1-9]\d* open \(\d+ opened, \d+ closed, 0 refused\)$/);
    expect(row('publish')).toMatch(/^publish +[\d,.]+ msg\/s, [\d.]+ \S+\/s \([\d,]+ messages in all\)$/);
    expect(row('publish')).not.toMatch(/^publish +0 msg\/s/);
    expect(row('deliver')).toMatch(/^deliver +0 events\/s/);
    expect(row('drops')).toContain('subscriber queues 0 events/s (0 in all)');
    expect(row('refusals')).toContain('publish rejects 0');
    expect(row('cache')).toMatch(/^cache +hit ratio 50\.0% \(1 hits, 1 misses\), .*1 entries/);
    expect(lines).toHaveLength(9);
  });

  it('fails with exit status 1 when nothing answers at the metrics address', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const run = await felix(['status', '--metrics', `127.0.0.1:${port}`, '--sample', '100ms']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot read http://127.0.0.1:${port}/metrics`);
  });
});

describe('felix-ts bench', () => {
  it('runs cachedemo with its own flags against the broker', async () => {
    const run = await felix([
      'bench',
      'cache',
      ...at(),
      '--samples',
      '100',
      '--warmup',
      '10',
      '--payloads',
      '64',
      '--ops',
      'put,get_hit',
      '--json',
    ]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { broker: string; results: { op: string }[] };
    expect(report.broker).toBe(broker.address);
    expect(report.results.map((result) => result.op)).toEqual(['put', 'get_hit']);
  });

  it('runs latencydemo with its own flags against the broker', async () => {
    const run = await felix(['bench', 'latency', ...at(), '--total', '100', '--warmup', '10', '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { tool: string; cases: { total: number }[] };
    expect(report.tool).toBe('latencydemo');
    expect(report.cases[0].total).toBe(100);
  });

  it("passes the program's usage errors through (exit status 2)", async () => {
    const run = await felix(['bench', 'latency', '--total', 'many']);
    expect(run.code).toBe(2);
  });
});

describe('bad arguments are usage errors (exit status 2, nothing on stdout)', () => {
  it.each([
    [['pub'], "missing required argument 'stream'"],
    [['pub', 'orders', 'x', '--ack', 'always'], "argument 'always' is invalid"],
    [['pub', 'orders', 'x', '--count', '0'], 'expected a whole number from 1'],
    [['pub', 'orders', 'x', '--rate', 'fast'], 'expected a whole number'],
    [['pub', 'bad name!', 'x'], 'invalid stream "bad name!"'],
    [['pub', 'a/b/c/d', 'x'], 'invalid stream "a/b/c/d"'],
    [['pub', 'acme/orders/new', 'x', '--tenant', 't1'], 'the name says tenant acme but --tenant says t1'],
    [['pub', 'orders/new', 'x', '--namespace', 'other'], 'the name says namespace orders'],
    // Named as the flag the user typed (commander's prefix), not as the SDK's connect option.
    [['pub', 'orders', 'x', '--broker', 'localhost:port'], "'localhost:port' is invalid. expected host:port"],
    [['bench', 'latency', '--broker', 'localhost:port'], "'localhost:port' is invalid. expected host:port"],
    [['bench', 'cache', '--broker', 'localhost:port'], "'localhost:port' is invalid. expected host:port"],
    [['pub', 'orders', 'x', '--tenant', 't/1'], 'expected a tenant name'],
    // A bad connection setting is named by the flag that set it, not by the SDK's option behind it.
    [
      ['pub', 'orders', 'x', '--ca', '/nonexistent/ca.pem'],
      'Invalid FELIX_TLS_CA (flag --ca): got "/nonexistent/ca.pem"',
    ],
    [['pub', 'orders', 'x', '--profile', 'turbo'], 'Invalid FELIX_PROFILE (flag --profile): got "turbo"'],
    [['sub', 'orders', '--config', '/nonexistent/client.yml'], '(from flag --config)'],
    [['cache', 'get', 'web', 'k', '--token', 'not a token'], 'Invalid FELIX_AUTH_TOKEN (flag --token)'],
    [['pub', 'orders', 'x', 'extra'], 'too many arguments'],
    [['sub'], "missing required argument 'stream'"],
    [['sub', 'orders', '--from', 'yesterday'], 'expected earliest, latest or an offset'],
    [['sub', 'orders', '--count', '-1'], 'expected a whole number from 1'],
    [['sub', 'orders', '--bogus'], "unknown option '--bogus'"],
    [['cache'], 'Usage: felix-ts cache'],
    [['cache', 'frob', 'c', 'k'], "unknown command 'frob'"],
    [['cache', 'get', 'web'], "missing required argument 'key'"],
    [['cache', 'put', 'web', 'k', 'v', '--ttl', '5'], 'expected a duration'],
    [['cache', 'put', 'web', 'k', 'v', '--ttl', '0ms'], 'expected a duration'],
    [['cache', 'del', 'not valid', 'k'], 'invalid cache "not valid"'],
    [['cache', 'put', 'web', '', 'v'], 'a cache key must not be empty'],
    [['status', '--sample', '1'], 'expected a duration'],
    [['status', '--metrics', 'http://['], 'expected host:port or a URL'],
    [['bench'], 'Usage: felix-ts bench'],
    [['bench', 'frob'], "unknown command 'frob'"],
    [['broker', '--sub-queue-policy', 'sometimes'], 'sometimes'],
    // Named as the flags they are, like every setting's flag.
    [['broker', '--profile', 'fast'], 'Invalid FELIX_PROFILE (flag --profile): got "fast"'],
    [['broker', '--config', '/nonexistent/broker.yml'], '(from flag --config)'],
  ])('felix-ts %j', async (args, complaint) => {
    const run = await felix(args);
    expect(run.stderr).toContain(complaint);
    expect(run.stdout).toBe('');
    expect(run.code).toBe(2);
  });
});

describe('a CA file (--ca, FELIX_TLS_CA) that is not PEM is a usage error, not a crash', () => {
  const notPem = join(mkdtempSync(join(tmpdir(), 'felix-cli-ca-')), 'bad.pem');
  writeFileSync(notPem, 'x\n');
  afterAll(() => rmSync(dirname(notPem), { recursive: true, force: true }));

  it.each([
    [['cache', 'get', 'web', 'k', '--ca', notPem], {}, 'flag --ca'],
    [['cache', 'put', 'web', 'k', 'v', '--ca', notPem], {}, 'flag --ca'],
    [['pub', 'orders', 'x', '--ca', notPem], {}, 'flag --ca'],
    [['sub', 'orders', '--ca', notPem], {}, 'flag --ca'],
    [['cache', 'del', 'web', 'k'], { FELIX_TLS_CA: notPem }, 'from the environment'],
  ])('felix-ts %j %j', async (args, env, origin) => {
    const run = await felix([...args, ...at()], { env });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^felix-ts: Invalid FELIX_TLS_CA \(.*\): got ".*": it is not PEM/);
    expect(run.stderr).toContain(`Invalid FELIX_TLS_CA (${origin}): `);
    // One line and the usage hint: no stack trace.
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(2);
  });

  it.each([['cache'], ['latency']])(
    'felix-ts bench %s with FELIX_TLS_CA not PEM: exit 2, one line',
    async (demo) => {
      const run = await felix(['bench', demo, ...at()], { env: { FELIX_TLS_CA: notPem } });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/Invalid FELIX_TLS_CA \(from the environment\): got ".*": it is not PEM/);
      expect(run.stderr).not.toMatch(/^\s+at /m);
    },
  );
});

describe('help and version', () => {
  it.each([
    [['--help'], ['broker', 'pub', 'sub', 'cache', 'status', 'bench', 'auth', '--version', 'Exit status']],
    [
      ['pub', '--help'],
      [
        '<stream>',
        '[message]',
        '--count',
        '--rate',
        '--ack',
        'per_batch',
        '--batch',
        '--broker',
        '--tenant',
        '--namespace',
        '--token',
        '--ca',
        'FELIX_AUTH_TOKEN',
        'FELIX_TLS_CA',
        '{{seq}}',
      ],
    ],
    [
      ['sub', '--help'],
      ['--from', '--count', 'earliest', '# gap', 'base64:', '--broker', 'FELIX_TLS_CA'],
    ],
    [
      ['cache', '--help'],
      ['get', 'put', 'del', '--ttl'],
    ],
    [
      ['cache', 'put', '--help'],
      ['<cache>', '<key>', '[value]', '--ttl', '--broker', '--token'],
    ],
    [
      ['cache', 'get', '--help'],
      ['--raw', '--broker'],
    ],
    [
      ['cache', 'del', '--help'],
      ['deleted', '--broker'],
    ],
    [
      ['status', '--help'],
      ['--metrics', '--sample', 'FELIX_BROKER_METRICS_BIND', 'hit ratio'],
    ],
    [
      ['bench', '--help'],
      ['latency', 'cache', 'latencydemo', 'cachedemo'],
    ],
    [
      ['broker', '--help'],
      ['--quic-bind', '--broker-metrics-bind', '--config', '--profile', 'FELIX_SUB_QUEUE_POLICY'],
    ],
    [['help', 'broker'], ['--quic-bind']],
    [
      ['bench', 'latency', '--help'],
      ['--total', '--fanout', '--broker'],
    ],
    [
      ['bench', 'cache', '--help'],
      ['--samples', '--payloads', '--broker'],
    ],
  ])('felix-ts %j documents %j', async (args, mentions) => {
    const run = await felix(args);
    expect(run.code).toBe(0);
    for (const mention of mentions) expect(run.stdout).toContain(mention);
  });

  it.each([
    [[]],
    [['broker']],
    [['pub']],
    [['sub']],
    [['cache']],
    [['cache', 'get']],
    [['cache', 'put']],
    [['cache', 'del']],
    [['status']],
    [['bench']],
    [['bench', 'latency']],
    [['bench', 'cache']],
    [['auth']],
    [['auth', 'keygen']],
    [['auth', 'mint']],
  ])("felix-ts %j --help lists -V, --version and gives each option's default once", async (command) => {
    const run = await felix([...command, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('-V, --version');
    // Commander wraps option descriptions; the default of one option is within one description.
    const oneLine = run.stdout.replace(/\s+/g, ' ');
    expect(oneLine).not.toMatch(/\(default[^)]*\) \(default/);
  });

  // Each a value the loaders refuse: asking for help or the version reads no setting, so none can stop it.
  const badEnvironment = {
    FELIX_PROFILE: 'turbo',
    FELIX_PUB_CONN_POOL: '0',
    FELIX_QUIC_BIND: 'nowhere',
    FELIX_CACHE_BENCH_WARMUP: 'many',
    FELIX_CLIENT_CONFIG: '/nonexistent/client.yml',
    FELIX_BROKER_CONFIG: '/nonexistent/broker.yml',
  };
  it.each([[[]], [['broker']], [['pub']], [['bench', 'latency']], [['bench', 'cache']]])(
    'felix-ts %j --help and --version work whatever FELIX_* variables are set',
    async (command) => {
      const help = await felix([...command, '--help'], { env: badEnvironment });
      expect(help.stderr).toBe('');
      expect(help).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: /) });
      const version = await felix([...command, '--version'], { env: badEnvironment });
      expect(version).toMatchObject({ code: 0, stdout: `${packageVersion}\n`, stderr: '' });
    },
  );

  it.each([['broker'], ['latencydemo'], ['cachedemo']])(
    'the %s bin: --help and --version work whatever FELIX_* variables are set',
    async (program) => {
      const main = fileURLToPath(new URL(`../../dist/${program}/main.js`, import.meta.url));
      const run = (flag: string) =>
        promisify(execFile)(process.execPath, [main, flag], { env: { ...process.env, ...badEnvironment } });
      expect(await run('--help')).toMatchObject({ stdout: expect.stringMatching(/^Usage: /), stderr: '' });
      expect(await run('--version')).toEqual({ stdout: `${packageVersion}\n`, stderr: '' });
    },
  );

  it('felix-ts status --help shows the metrics default as written', async () => {
    const run = await felix(['status', '--help']);
    expect(run.stdout.replace(/\s+/g, ' ')).toContain(
      "the broker's HTTP metrics address (default: 127.0.0.1:8080)",
    );
  });

  it.each([
    [['--version']],
    [['-V']],
    [['broker', '--version']],
    [['pub', '--version']],
    [['sub', '-V']],
    [['cache', '--version']],
    [['cache', 'get', '--version']],
    [['cache', 'put', '--version']],
    [['cache', 'del', '--version']],
    [['status', '--version']],
    [['bench', '--version']],
    [['bench', 'latency', '--version']],
    [['bench', 'cache', '--version']],
    [['auth', '--version']],
    [['auth', 'keygen', '--version']],
    [['auth', 'mint', '--version']],
  ])('felix-ts %j prints the package version', async (args) => {
    expect(await felix(args)).toMatchObject({ code: 0, stdout: `${packageVersion}\n` });
  });
});
