#!/usr/bin/env -S node --max-semi-space-size=4
// The shebang's Node flags are BROKER_NODE_FLAGS (broker/spawn.ts says why), as in `npm start`.
// The broker process: `npm start` / `node dist/broker/main.js [flags]` / `felix-ts broker [flags]`.
import { Command } from 'commander';
import { addBrokerFlags, ConfigError, loadBrokerConfigFromFlags } from './config.js';
import { applyHeapGrowing } from './heap-growth.js';
import { createLogger } from './logger.js';
import { BrokerNode } from './node.js';

/** A bad setting or a start-up failure the operator must fix: one line naming the setting, exit 2. */
function exitOnConfigError(err: unknown): void {
  if (err instanceof ConfigError) {
    process.stderr.write(`felix-broker: ${err.message}\n`);
    process.exit(2);
  }
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
  let node: BrokerNode;
  try {
    node = await BrokerNode.start(loaded.config, { logger: log, profile: loaded.profile, heapGrowing });
  } catch (err) {
    exitOnConfigError(err);
    throw err;
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
