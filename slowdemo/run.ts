/**
 * One run: a broker (spawned on the default profile with the run's queue policy, or the one given), the
 * fast subscribers, the slow one (unless this is the baseline) and the publisher; what every client saw and
 * what the broker's /metrics said.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { demoBrokerEnvironment, spawnBroker, type BrokerProcess } from '../broker/spawn.js';
import { POLICIES, type DemoRequest, type Policy } from './cli.js';
import {
  FastSubscriber,
  SlowSubscriber,
  publishAtRate,
  type ClientResult,
  type Connector,
  type PublisherResult,
} from './clients.js';
import { MeasureWindow } from './latency.js';

export interface BrokerFigures {
  /** Largest resident set seen (sampled every second), bytes; NaN when /metrics is not reachable. */
  readonly peakRssBytes: number;
  readonly drops: number;
  readonly slowConsumerDisconnects: number;
}

export interface RunResult {
  /** The queue policy, 'baseline' (no slow subscriber) or 'external' (--broker). */
  readonly label: Policy | 'baseline' | 'external';
  readonly publisher: PublisherResult;
  readonly fast: readonly ClientResult[];
  readonly slow: ClientResult | null;
  readonly broker: BrokerFigures;
}

// After publishing stops, how long subscribers may take to receive what is still on its way.
const SETTLE_MS = 3_000;

async function scrape(metricsPort: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const space = line.lastIndexOf(' ');
    const name = line.slice(0, space).replace(/\{.*\}$/, '');
    values.set(name, (values.get(name) ?? 0) + Number(line.slice(space + 1)));
  }
  return values;
}

/** Samples the broker's RSS every second until stopped. */
class BrokerWatch {
  peakRss = Number.NaN;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly metricsPort: number | undefined) {
    if (metricsPort === undefined) return;
    this.timer = setInterval(() => void this.sample(), 1000);
  }

  async sample(): Promise<Map<string, number> | null> {
    if (this.metricsPort === undefined) return null;
    try {
      const values = await scrape(this.metricsPort);
      const rss = values.get('felix_process_resident_memory_bytes') ?? Number.NaN;
      if (!(rss <= this.peakRss)) this.peakRss = rss;
      return values;
    } catch {
      return null;
    }
  }

  async finish(): Promise<BrokerFigures> {
    if (this.timer !== null) clearInterval(this.timer);
    const values = await this.sample();
    return {
      peakRssBytes: this.peakRss,
      drops: values?.get('felix_subscriber_dropped_events_total') ?? Number.NaN,
      slowConsumerDisconnects: values?.get('felix_slow_consumer_disconnects_total') ?? Number.NaN,
    };
  }
}

/**
 * Why the environment's FELIX_SUB_QUEUE_POLICY cannot stand, or undefined: each policy run's broker is
 * started with FELIX_SUB_QUEUE_POLICY set to its policy (runOnce), so a different value would be replaced
 * without a word (and kept by the baseline's broker only). --broker makes no policy runs.
 */
export function queuePolicyConflict(
  env: Readonly<Record<string, string | undefined>>,
  policies: readonly Policy[],
): string | undefined {
  const given = env.FELIX_SUB_QUEUE_POLICY;
  if (given === undefined || policies.every((policy) => policy === given)) return undefined;
  const remedy = (POLICIES as readonly string[]).includes(given) ? `, or give --policies ${given}` : '';
  return (
    `FELIX_SUB_QUEUE_POLICY=${given} in the environment, but each run's broker takes its policy from ` +
    `--policies (${policies.join(',')}): unset it${remedy}`
  );
}

/** A run's broker: the demo's environment on ephemeral loopback ports, with the run's queue policy. */
export function runBrokerEnvironment(
  env: NodeJS.ProcessEnv,
  label: RunResult['label'],
): Record<string, string> {
  return {
    ...demoBrokerEnvironment(env),
    ...(label === 'baseline' || label === 'external' ? {} : { FELIX_SUB_QUEUE_POLICY: label }),
  };
}

export async function runOnce(
  request: DemoRequest,
  label: RunResult['label'],
  onWarning: (message: string) => void,
): Promise<RunResult> {
  let spawned: BrokerProcess | null = null;
  if (request.broker === undefined) {
    spawned = await spawnBroker(runBrokerEnvironment(process.env, label));
  }
  const connector: Connector = {
    broker: spawned?.address ?? request.broker!,
    window: new MeasureWindow(),
    // The spawned broker is on loopback with its own certificate: its notice says nothing new.
    onWarning: (m) => (spawned !== null && /certificate/i.test(m) ? undefined : onWarning(m)),
  };
  const watch = new BrokerWatch(spawned?.metricsPort);
  const fast: FastSubscriber[] = [];
  let slow: SlowSubscriber | null = null;
  try {
    for (let i = 0; i < request.concurrency; i++) {
      fast.push(await FastSubscriber.start(connector, request.stream, `fast ${i + 1}`));
    }
    if (label !== 'baseline') {
      slow = await SlowSubscriber.start(
        connector,
        request.stream,
        request.slowMs,
        request.jitterMs,
        request.slowRecvWindow,
      );
    }
    const publisher = await publishAtRate(
      connector,
      request.stream,
      request.rate,
      request.payloadBytes,
      request.warmupS,
      request.durationS,
    );
    for (let waited = 0; waited < SETTLE_MS; waited += 50) {
      if (fast.every((f) => f.received >= publisher.acked)) break;
      await sleep(50);
    }
    const result: RunResult = {
      label,
      publisher,
      fast: fast.map((f) => f.result()),
      slow: slow?.result() ?? null,
      broker: await watch.finish(),
    };
    return result;
  } finally {
    await watch.finish();
    await Promise.all([...fast, ...(slow === null ? [] : [slow])].map((s) => s.close().catch(() => {})));
    await spawned?.stop();
  }
}
