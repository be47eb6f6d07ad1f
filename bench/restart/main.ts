/**
 * How long an SDK client takes to be back after its broker restarts on the same port: the broker is
 * SIGTERMed (it drains and exits), nothing listens for `--gap-ms`, then a new broker process starts on that
 * port. Measured: from the new broker's "listening" line to the publish connection's `reconnect` status.
 * One JSON line per trial, then the median and range:
 *
 *   flock /tmp/felix-bench.lock node dist/bench/restart/main.js --trials 3 --gap-ms 3000
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { demoBrokerEnvironment, spawnBroker, type BrokerProcess } from '../../broker/spawn.js';
import { connect } from '../../client/index.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '3' },
    'gap-ms': { type: 'string', default: '3000' },
  },
});
const trials = Number(values.trials);
const gapMs = Number(values['gap-ms']);
if (!Number.isInteger(trials) || trials < 1 || !Number.isInteger(gapMs) || gapMs < 0) {
  console.error('--trials must be an integer ≥ 1 and --gap-ms an integer ≥ 0');
  process.exit(2);
}

function start(bind: string): Promise<BrokerProcess> {
  return spawnBroker({ ...demoBrokerEnvironment(process.env), FELIX_QUIC_BIND: bind });
}

async function trial(): Promise<number> {
  let broker = await start('127.0.0.1:0');
  const address = broker.address;
  const client = await connect({ broker: address, env: {}, onWarning: () => undefined, pubConnPool: 1 });
  let reconnectAt: number | null = null;
  void (async () => {
    for await (const event of client.status()) {
      if (event.type === 'reconnect' && event.pool === 'publish') reconnectAt = performance.now();
    }
  })();
  try {
    await client.publish('restart', 'before');
    await broker.stop();
    await new Promise((r) => setTimeout(r, gapMs));
    broker = await start(address);
    const listeningAt = performance.now();
    // The publish waits for the new connection; the status event follows its authentication.
    await client.publish('restart', 'after');
    while (reconnectAt === null) await new Promise((r) => setTimeout(r, 2));
    return reconnectAt - listeningAt;
  } finally {
    await client.close();
    await broker.stop();
  }
}

const results: number[] = [];
for (let i = 0; i < trials; i++) {
  const ms = await trial();
  results.push(ms);
  console.log(JSON.stringify({ trial: i + 1, gap_ms: gapMs, listening_to_reconnect_ms: Math.round(ms) }));
}
const sorted = [...results].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)]!;
console.log(
  `listening → reconnect: median ${Math.round(median)} ms (${Math.round(sorted[0]!)}–${Math.round(sorted.at(-1)!)}) ` +
    `over ${trials} trials, ${gapMs} ms with nothing listening`,
);
