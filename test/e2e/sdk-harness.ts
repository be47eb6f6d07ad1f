// Shared fixtures of the SDK end-to-end suites: an in-process broker node on ephemeral loopback ports and
// SDK clients connected to it, all closed after each test.
import { pino } from 'pino';
import { afterEach } from 'vitest';
import { loadBrokerConfig, type BrokerLoadOptions } from '../../broker/config.js';
import { BrokerNode } from '../../broker/node.js';
import { connect, type ConnectOptions, type FelixClient, type FelixError } from '../../client/index.js';

const nodes: BrokerNode[] = [];
const clients: FelixClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

export type BrokerOverrides = NonNullable<BrokerLoadOptions['overrides']>;

export async function startBroker(overrides: BrokerOverrides = {}): Promise<BrokerNode> {
  const { config } = loadBrokerConfig({
    env: {},
    overrides: { quicBind: '127.0.0.1:0', brokerMetricsBind: '127.0.0.1:0', ...overrides },
  });
  const node = await BrokerNode.start(config, { logger: pino({ level: 'silent' }) });
  nodes.push(node);
  return node;
}

/** Warnings the clients reported (the lenient-TLS notice, unknown variables, …). */
export const warnings: string[] = [];

export async function client(broker: BrokerNode, options: ConnectOptions = {}): Promise<FelixClient> {
  const c = await connect({
    broker: `127.0.0.1:${broker.quicAddress.port}`,
    env: {},
    onWarning: (m) => warnings.push(m),
    ...options,
  });
  clients.push(c);
  return c;
}

/** One unlabelled value of the broker's /metrics. */
export async function metric(broker: BrokerNode, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${broker.httpAddress.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no metric ${name}`);
  return Number(line.slice(name.length + 1));
}

/** A bound on waiting so a broken build fails with a message instead of hanging; never a speed check. */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 30_000,
): Promise<void> {
  const started = Date.now();
  while (!(await predicate())) {
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The FelixError `promise` rejects with; fails the test when it resolves. */
export async function failure(promise: Promise<unknown>): Promise<FelixError> {
  try {
    await promise;
  } catch (error) {
    return error as FelixError;
  }
  throw new Error('expected a refusal, got success');
}
