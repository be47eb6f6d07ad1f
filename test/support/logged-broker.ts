// An in-process broker whose log lines a test reads: what it says at start-up is part of its contract.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { BrokerNode, type BrokerNodeOptions } from '../../broker/node.js';

const started: BrokerNode[] = [];
afterEach(async () => {
  for (const node of started.splice(0)) await node.stop();
});

export interface LoggedBroker {
  readonly node: BrokerNode;
  /** Every line logged so far (info and above), parsed. */
  readonly logs: Record<string, unknown>[];
}

/** A broker on ephemeral loopback ports (unless `env` says otherwise), stopped after the test. */
export async function startLoggedBroker(
  env: Record<string, string> = {},
  options: Omit<BrokerNodeOptions, 'logger'> = {},
): Promise<LoggedBroker> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const { config } = loadBrokerConfig({
    env: { FELIX_QUIC_BIND: '127.0.0.1:0', FELIX_BROKER_METRICS_BIND: '127.0.0.1:0', ...env },
  });
  const node = await BrokerNode.start(config, { ...options, logger: pino({ level: 'info' }, sink) });
  started.push(node);
  return { node, logs };
}
