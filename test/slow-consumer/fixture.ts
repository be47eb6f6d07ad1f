// Shared pieces of the slow-consumer suites: a real broker process on the default profile, SDK clients
// (one fast, one that stops reading) and what /metrics says about drops and slow-consumer disconnects.
import { afterEach } from 'vitest';
import { connect, type FelixClient, type FelixEvent, type Subscription } from '../../client/index.js';
import { spawnBroker, type BrokerProcess } from '../e2e/broker-process.js';

export type { BrokerProcess };

const clients: FelixClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** The broker program as users run it: its defaults, plus only what the test names (a queue policy). */
export function startBroker(env: Record<string, string> = {}): Promise<BrokerProcess> {
  return spawnBroker(env);
}

async function client(
  broker: BrokerProcess,
  options: Parameters<typeof connect>[0] = {},
): Promise<FelixClient> {
  const c = await connect({
    broker: `127.0.0.1:${broker.quicPort}`,
    env: {},
    onWarning: () => {},
    ...options,
  });
  clients.push(c);
  return c;
}

export const publisherOf = (broker: BrokerProcess): Promise<FelixClient> => client(broker);

/** A subscriber that takes every event at once and keeps its offsets. */
export interface FastSubscriber {
  readonly offsets: number[];
  readonly subscription: Subscription;
}

export async function fastSubscriber(broker: BrokerProcess, stream: string): Promise<FastSubscriber> {
  const c = await client(broker);
  const offsets: number[] = [];
  const subscription = await c.subscribe(stream, { onEvent: (e: FelixEvent) => offsets.push(e.offset) });
  return { offsets, subscription };
}

/**
 * A subscriber that stops reading: an iterator nobody advances, over a local queue of one event that blocks
 * (so the SDK stops reading the event stream) and small receive windows of its own, so that QUIC flow control
 * stops the broker after kilobytes rather than after the default 64 MiB stream window — what reaches the
 * broker is the same, sooner. The broker keeps its defaults.
 */
export async function stalledSubscriber(broker: BrokerProcess, stream: string): Promise<Subscription> {
  const c = await client(broker, {
    eventConnPool: 1,
    eventStreamRecvWindow: 64 * 1024,
    eventConnRecvWindow: 256 * 1024,
    clientSubQueueCapacity: 1,
    clientSubQueuePolicy: 'block',
  });
  return c.subscribe(stream);
}

export interface Counters {
  readonly published: number;
  /** felix_subscriber_dropped_events_total by policy. */
  readonly drops: Record<string, number>;
  /** felix_slow_consumer_disconnects_total by limit. */
  readonly slowConsumerDisconnects: Record<string, number>;
}

/** The counters this suite reads, scraped from /metrics. */
export async function counters(broker: BrokerProcess): Promise<Counters> {
  const text = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
  const labelled = (name: string, label: string): Record<string, number> => {
    const out: Record<string, number> = {};
    const pattern = new RegExp(`^${name}\\{${label}="([^"]+)"\\} (\\S+)$`, 'gm');
    for (const m of text.matchAll(pattern)) out[m[1]!] = Number(m[2]);
    return out;
  };
  const published = /^felix_published_messages_total (\S+)$/m.exec(text);
  return {
    published: Number(published?.[1] ?? NaN),
    drops: labelled('felix_subscriber_dropped_events_total', 'policy'),
    slowConsumerDisconnects: labelled('felix_slow_consumer_disconnects_total', 'limit'),
  };
}

export const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

/** A bound on waiting so a broken build fails with a message instead of hanging; never a speed check. */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 60_000,
): Promise<void> {
  const started = Date.now();
  while (!(await predicate())) {
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Events missing between consecutive offsets. */
export function gapTotal(offsets: readonly number[]): number {
  let missing = 0;
  for (let i = 1; i < offsets.length; i++) missing += offsets[i]! - offsets[i - 1]! - 1;
  return missing;
}
