#!/usr/bin/env -S node --max-semi-space-size=4
// The shebang's Node flags are BROKER_NODE_FLAGS (broker/spawn.ts says why), as in `npm start`.
// The broker process: `npm start` / `node dist/broker/main.js [flags]` / `felix-ts broker [flags]`.
import { Command } from 'commander';
import { addBrokerFlags, ConfigError, loadBrokerConfigFromFlags } from './config.js';
import { applyHeapGrowing } from './heap-growth.js';
import { IdleMemoryReturner, processReleasers } from './idle-memory.js';
import { createLogger } from './logger.js';
import { registerIdleMemoryMetrics } from './metrics.js';
import { BrokerNode } from './node.js';
import { RateLimitedLog } from './storage/rate-limited-log.js';

/** A bad setting or a start-up failure the operator must fix: one line naming the setting, exit 2. */
function exitOnConfigError(err: unknown): void {
  if (err instanceof ConfigError) {
    // One line per problem (every broken rule between settings is one), each saying whose it is.
    for (const line of err.message.split('\n')) process.stderr.write(`felix-broker: ${line}\n`);
    process.exit(2);
  }
}

const MiB = 1024 * 1024;
/** The warning a failed idle-memory sample logs (rate limited). */
const IDLE_SAMPLE_FAILED =
  'idle: a memory sample failed; no memory is returned to the operating system while samples fail';

/** FELIX_IDLE_MEMORY_RETURN_MS for this process (broker/idle-memory.ts), and what the start log says of it. */
function idleMemoryReturner(
  quietMs: number,
  log: ReturnType<typeof createLogger>,
): { returner: IdleMemoryReturner | null; described: string } {
  if (quietMs === 0) return { returner: null, described: 'off' };
  const { releasers, trimUnavailable } = processReleasers();
  // A sample that fails (EMFILE: the resident set is read from /proc/self/stat) comes back once a second
  // while its cause lasts: one warning per kind per interval says the return is not working, and why.
  const failures = new RateLimitedLog(log);
  const returner = new IdleMemoryReturner(
    quietMs,
    releasers,
    (r) =>
      log.info(
        {
          rssBeforeMiB: +(r.rssBefore / MiB).toFixed(1),
          rssAfterMiB: +(r.rssAfter / MiB).toFixed(1),
          collectMs: +r.collectMs.toFixed(1),
          trimMsOffLoop: +r.trimMs.toFixed(1),
          nextQuietMs: Math.round(r.nextQuietMs),
        },
        'idle: returned memory to the operating system',
      ),
    (err) => failures.warn(err, IDLE_SAMPLE_FAILED),
  );
  const trim = trimUnavailable === null ? 'malloc_trim' : `no malloc_trim: ${trimUnavailable}`;
  return { returner, described: `after ${quietMs} ms quiet (full GC, ${trim})` };
}

async function main(): Promise<void> {
  const program = addBrokerFlags(
    new Command('felix-broker').description('felix-ts broker: pub/sub and key-value cache over QUIC'),
  );
  // Bad arguments (an unknown flag, a missing value) exit 2 like a bad setting; --help and --version 0.
  program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  program.parse(process.argv);
  let loaded;
  try {
    loaded = loadBrokerConfigFromFlags(program.opts());
  } catch (err) {
    exitOnConfigError(err);
    throw err;
  }
  const log = createLogger(loaded.config.logLevel, 'felix-broker', loaded.config.logPretty);
  for (const w of loaded.warnings) log.warn(w);
  log.debug({ settings: loaded.report }, 'configuration');
  const heapGrowing = applyHeapGrowing(loaded.config.heapGrowingPercent);
  const idle = idleMemoryReturner(loaded.config.idleMemoryReturnMs, log);
  let node: BrokerNode;
  try {
    node = await BrokerNode.start(loaded.config, {
      logger: log,
      profile: loaded.profile,
      heapGrowing,
      idleMemoryReturn: idle.described,
    });
  } catch (err) {
    exitOnConfigError(err);
    throw err;
  }
  if (idle.returner !== null) {
    registerIdleMemoryMetrics(node.metrics, idle.returner);
    idle.returner.start();
  }
  let signals = 0;
  const shutdown = (signal: string): void => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    log.info({ signal }, 'shutting down');
    node.stop(`broker shutting down (${signal})`).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading the JWKS');
    node.reloadAuth().catch((err: unknown) => log.error({ err }, 'JWKS reload failed'));
  });
  node.onDrainRequest = () => shutdown('POST /drain');
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`felix-broker: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
