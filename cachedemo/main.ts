#!/usr/bin/env node
// cachedemo: benchmarks cache put/get over QUIC as Felix's cachedemo does, against a broker in its own
// process (started here unless --broker names one), then checks that a TTL expires.
// `npm run demo:cache` / `node dist/cachedemo/main.js [flags]`; --help lists the flags.
import { loadavg } from 'node:os';
import { Command, Option } from 'commander';
import { loadBrokerConfig } from '../broker/config.js';
import { brokerSettingRefusal } from '../broker/spawn.js';
import { connect, ConfigError, isFelixError, loadClientConfig, type FelixClient } from '../client/index.js';
import { brokerArgument } from '../cli/connection-flags.js';
import { addVersionFlag } from '../config/cli-flags.js';
import { withoutOwnBrokerNotice } from '../latencydemo/own-broker-notice.js';
import { FelixBackend } from './backend.js';
import { startBroker, type BrokerChild } from './broker-process.js';
import { cacheShortfall } from './cache-fit.js';
import { invalidRows, jsonRows, resultTable } from './report.js';
import { progressPrinter, runMain, settingsOrComplain } from './cli.js';
import { addBenchFlags, type BenchSettings } from './settings.js';
import { runPayloadSuite, type OpResult } from './suite.js';
import { runTtlCheck } from './ttl-check.js';

interface DemoFlags {
  broker?: string;
  json?: boolean;
  brokerCpuProf?: string;
}

async function main(): Promise<number> {
  const program = addBenchFlags(
    addVersionFlag(
      new Command('cachedemo').description('felix-ts cache benchmark: put/get over QUIC, then a TTL check'),
    ),
  )
    .option(
      '--broker <addr>',
      'host:port of a running broker (default: start one in its own process)',
      brokerArgument,
    )
    .option('--json', 'print one JSON document on stdout (progress goes to stderr)')
    .addOption(
      // A --broker is not started here, so it could not be profiled: saying so beats ignoring the flag.
      new Option(
        '--broker-cpu-prof <dir>',
        'run the started broker under node --cpu-prof, writing into <dir>',
      ).conflicts('broker'),
    );
  // A bad flag or value exits 2 (as a bad FELIX_CACHE_BENCH_* setting does); --help and --version 0.
  program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  program.parse(process.argv);
  const flags = program.opts<DemoFlags & Record<string, unknown>>();
  const settings = settingsOrComplain('cachedemo', flags);
  if (settings === null) return 2;
  // The SDK's settings (FELIX_* of the client, FELIX_CLIENT_CONFIG) are checked before a broker is started
  // for them: a bad one is a usage error (ConfigError, exit 2) with no broker process behind it, as in
  // latencydemo. connect() reads them again, and reports the unknown-variable warnings then.
  loadClientConfig({ env: process.env });
  const json = flags.json === true;
  const print = progressPrinter(json);
  const loadBefore = loadavg()[0]!;

  print('== felix-ts QUIC Cache Demo ==');
  print('Goal: benchmark cache Put/Get over QUIC (not pub/sub).');
  let broker: BrokerChild | null = null;
  let client: FelixClient | null = null;
  try {
    let address = flags.broker;
    // Known for the broker started here only (it gets this environment); a --broker keeps its own.
    let cacheMaxBytes: number | undefined;
    if (address === undefined) {
      cacheMaxBytes = loadBrokerConfig({ env: process.env }).config.cacheMaxBytes;
      print('Step 1/4: starting the broker in its own process.');
      const nodeArgs =
        flags.brokerCpuProf === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', flags.brokerCpuProf];
      broker = await startBroker({ nodeArgs });
      address = broker.address;
    } else {
      print(`Step 1/4: using the broker at ${address}.`);
    }
    print('Step 2/4: connecting QUIC client.');
    const warned = new Set<string>();
    client = await connect({
      broker: address,
      onWarning: withoutOwnBrokerNotice(broker !== null, (message) => {
        if (!warned.has(message)) print(`warning: ${(warned.add(message), message)}`);
      }),
    });

    print('Step 3/4: running cache benchmarks.');
    print(configLine(settings, client));
    if (settings.timings)
      print('timings: felix-ts collects no per-stage cache timings; FELIX_CACHE_BENCH_TIMINGS is ignored');
    const backend = new FelixBackend(client);
    const results: OpResult[] = [];
    const notRun: string[] = [];
    for (const size of settings.payloads) {
      print('');
      print(`Payload size: ${size} bytes`);
      const shortfall =
        cacheMaxBytes === undefined ? undefined : cacheShortfall(size, settings, cacheMaxBytes);
      if (shortfall !== undefined) {
        // Every get_hit would miss: the run is invalid already, and measuring it would only take time.
        print(`INVALID RUN: ${shortfall}`);
        notRun.push(shortfall);
        continue;
      }
      try {
        results.push(...(await runPayloadSuite(backend, size, settings, print, broker?.cpuSeconds)));
      } catch (error) {
        // A value the broker refuses (FELIX_CACHE_MAX_VALUE_BYTES, the frame limit): that size cannot be
        // measured, as one that cannot fit the cache; the other sizes' results still stand.
        const refused = refusedValue(error, size);
        if (refused === undefined) throw error;
        print(`INVALID RUN: ${refused}`);
        notRun.push(refused);
        continue;
      }
      if (settings.connStats) print(`cache_conn_counts=[${connectionCounts(client).join(', ')}]`);
    }

    print('');
    print('Step 4/4: TTL sanity check.');
    const ttl = await runTtlCheck(backend, print);
    const invalid = [...notRun, ...invalidRows(results, settings.ttlMs)];
    print('');
    print(resultTable(results));
    for (const row of invalid) print(`INVALID RUN: ${row}`);
    if (json) {
      const document = {
        settings,
        broker: flags.broker ?? 'started',
        load_avg_1m: { before: loadBefore, after: loadavg()[0] },
        results: jsonRows(results),
        ttl_check: ttl.passed ? 'PASS' : 'FAIL',
        invalid,
      };
      process.stdout.write(`${JSON.stringify(document)}\n`);
    }
    print('Demo complete.');
    // As latencydemo: 3 for an INVALID RUN; a failed TTL check is 1.
    return invalid.length > 0 ? 3 : ttl.passed ? 0 : 1;
  } finally {
    await client?.close();
    await broker?.stop();
  }
}

/** Why values of `size` bytes could not be measured, when `error` is the broker (or SDK) refusing one. */
function refusedValue(error: unknown, size: number): string | undefined {
  if (!isFelixError(error)) return undefined;
  const refused =
    error.code === 'payload_too_large' ||
    error.code === 'limit_exceeded' ||
    error.brokerCode === 'payload_too_large' ||
    error.brokerCode === 'limit_exceeded';
  return refused ? `${size} B values: refused, not measured: ${error.message}` : undefined;
}

function configLine(s: BenchSettings, client: FelixClient): string {
  const { cacheConnPool, cacheStreamsPerConn, cacheStreamMaxInflight } = client.config;
  const measured = s.durationMs === null ? `samples=${s.samples}` : `duration_ms=${s.durationMs}`;
  return (
    `Config: warmup=${s.warmup} ${measured} payloads=[${s.payloads.join(', ')}] ` +
    `ttl_ms=${s.ttlMs ?? 'None'} concurrency=${s.concurrency}${s.rate === null ? '' : ` rate=${s.rate}`} ` +
    `keys=${s.keys} ops=[${s.ops.join(', ')}] ` +
    `timings=${s.timings} cache_conn_pool=${cacheConnPool} streams_per_conn=${cacheStreamsPerConn} ` +
    `stream_max_inflight=${cacheStreamMaxInflight}`
  );
}

/** Requests sent per cache connection (stream i is on connection i mod FELIX_CACHE_CONN_POOL). */
function connectionCounts(client: FelixClient): number[] {
  const counts = new Array<number>(client.config.cacheConnPool).fill(0);
  client.cache.sentPerStream().forEach((n, stream) => (counts[stream % counts.length]! += n));
  return counts;
}

runMain('cachedemo', main, (error) => {
  if (error instanceof ConfigError) return { message: error.message, code: 2 };
  // A broker setting its broker refused (its own exit status 2) that the check above could not see, such
  // as a certificate file that does not parse: a bad setting too.
  const refusal = brokerSettingRefusal(error);
  if (refusal !== undefined) return { message: refusal, code: 2 };
  // The SDK's errors say what failed (a value above the broker's limit, a broker that went away); a stack
  // trace would only bury that.
  if (isFelixError(error)) return { message: `could not run: ${error.code}: ${error.message}`, code: 1 };
  return { message: (error as Error).stack ?? String(error), code: 1 };
});
