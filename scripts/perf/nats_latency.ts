// latencydemo's workload against NATS: the same flags, the same measurement and the same JSON report, so
// that the comparison reads both alike. It borrows latencydemo's own pieces for everything that defines a
// number (the 16-byte stamp header, the HDR percentiles, the case report with Felix's definitions of
// elapsed time and rates, the open loop's pacer); only the transport differs. Fanout = that many
// subscriber connections. Without --server it starts its own nats-server process, as latencydemo spawns
// its own broker.
//
// Batches in flight are latencydemo's: core NATS has no batch publish, so a batch is `batch` publishes back
// to back. At batch 1 without --binary (latencydemo's acked mode, where each publish awaits the broker's
// ack) each publish is followed by a flush (a PING/PONG round trip to the server). Otherwise at most
// --window batches are in flight until delivered to every subscriber, exactly latencydemo's --pub-window
// (default: latencydemo's default for the batch and payload; 0 for no bound). --rate is latencydemo's
// open loop: one publish per message at its scheduled time, latency from that time.
import { build, type Histogram } from 'hdr-histogram-js';
import { performance } from 'node:perf_hooks';
import { connect, type NatsConnection } from 'nats';
import { buildCaseReport, type CaseReport } from '../../latencydemo/case-report.js';
import type { CaseConfig, CaseSettings } from '../../latencydemo/cases.js';
import { allocatePayload, readSentAt, readSeq, writeStamp } from '../../latencydemo/stamp.js';
import { summarize } from '../../latencydemo/subscribers.js';
import { openLoopReport, type OpenLoopReport } from '../../latencydemo/open-loop.js';
import { pace } from '../../latencydemo/pacer.js';
import { defaultPubWindow } from '../../latencydemo/publish-window.js';
import { TURN_BATCHES, usesAcks } from '../../latencydemo/publisher.js';
import { nonNegativeInteger, perfCommand, positiveInteger, runIfMain, UsageError } from './cli.js';
import type { LatencyReport } from './latency_report.js';
import { encodingName } from './matrix.js';
import { requireNatsServer, startNatsServer, type RunningNatsServer } from './nats_server.js';

/** latencydemo's workload settings, and where nats-server listens. */
type HarnessOptions = Pick<
  CaseSettings,
  'warmup' | 'total' | 'payload' | 'fanout' | 'batch' | 'binary' | 'idleMs'
> & {
  readonly server: string;
  /** Batches in flight until delivered (latencydemo's --pub-window); undefined: latencydemo's default. */
  readonly window?: number | undefined;
  /** Open loop: messages per second; undefined: the closed loop. */
  readonly rate?: number | undefined;
};

const SUBJECT = 'latency';
const NS_PER_MS = 1e6;

function latencyHistogram(): Histogram {
  // As latencydemo's: nanoseconds, three significant digits.
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, autoResize: true });
}

/** What the subscribers saw, counted as latencydemo's SubscriberGroup counts it. */
class Deliveries {
  readonly primaryLatencies = latencyHistogram();
  readonly allLatencies = latencyHistogram();
  warmupReceived = 0;
  measuredReceived = 0;
  primaryReceived = 0;
  primaryDoneAt = -1;
  primaryLastAt = -1;
  lastEventAt = performance.now();

  constructor(
    private readonly warmup: number,
    private readonly total: number,
  ) {}

  /** The pending wait's condition and completion: checked on every delivery, as latencydemo's waits are. */
  private waiter: { done: () => boolean; settle: (complete: boolean) => void } | null = null;

  listener(primary: boolean): (payload: Uint8Array) => void {
    return (payload) => {
      const now = performance.now();
      this.lastEventAt = now;
      if (readSeq(payload) < this.warmup) {
        this.warmupReceived++;
      } else {
        const latencyNs = Math.round((now - readSentAt(payload)) * NS_PER_MS);
        this.allLatencies.recordValue(latencyNs);
        this.measuredReceived++;
        if (primary) {
          this.primaryLatencies.recordValue(latencyNs);
          this.primaryLastAt = now;
          if (++this.primaryReceived === this.total) this.primaryDoneAt = now;
        }
      }
      if (this.waiter !== null && this.waiter.done()) this.waiter.settle(true);
    };
  }

  /** Deliveries so far, both phases, all subscribers (what the publish window counts). */
  get accounted(): number {
    return this.warmupReceived + this.measuredReceived;
  }

  /** Resolves once `done()` holds (checked on each delivery), or after idleMs without any delivery. */
  waitFor(done: () => boolean, idleMs: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    const started = performance.now();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (complete: boolean): void => {
        clearTimeout(timer);
        this.waiter = null;
        resolve(complete);
      };
      const checkIdle = (): void => {
        const quiet = performance.now() - Math.max(this.lastEventAt, started);
        if (quiet >= idleMs) settle(false);
        else timer = setTimeout(checkIdle, idleMs - quiet);
      };
      this.waiter = { done, settle };
      timer = setTimeout(checkIdle, idleMs);
    });
  }
}

/** Publishes one phase of the closed loop; `published` counts the messages out so far (both phases). */
class ClosedLoopPublisher {
  published = 0;
  readonly warnings: string[] = [];
  private windowDeliveries: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly c: CaseConfig,
    private readonly deliveries: Deliveries,
  ) {
    this.windowDeliveries = c.pubWindow * c.batch * c.fanout;
  }

  async publishPhase(count: number, firstSeq: number): Promise<void> {
    const c = this.c;
    const acked = usesAcks(c);
    for (let sent = 0, batches = 1; sent < count; batches++) {
      const n = Math.min(c.batch, count - sent);
      if (!acked && this.windowDeliveries > 0 && this.inFlight() + n * c.fanout > this.windowDeliveries) {
        await this.waitForRoom();
      }
      // One send time per batch, as latencydemo stamps a batch. A fresh buffer per message: the NATS client
      // keeps a reference to it until its next write, where latencydemo's SDK copies.
      const sentAt = performance.now();
      for (let i = 0; i < n; i++) {
        const payload = allocatePayload(c.payload);
        writeStamp(payload, sentAt, firstSeq + sent + i);
        this.nc.publish(SUBJECT, payload);
      }
      sent += n;
      this.published += n;
      // latencydemo's acked mode awaits each publish's ack from the broker: here the server's PONG.
      if (acked) await this.nc.flush();
      // Otherwise nats.js writes what was published at the end of this microtask; yield a turn now and then
      // so the deliveries are read (as latencydemo does every TURN_BATCHES batches).
      else if (batches % TURN_BATCHES === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await this.nc.flush();
  }

  private inFlight(): number {
    return this.published * this.c.fanout - this.deliveries.accounted;
  }

  /** As latencydemo: waits until half the window is free, or gives the window up after idleMs of silence. */
  private async waitForRoom(): Promise<void> {
    const target = this.published * this.c.fanout - Math.floor(this.windowDeliveries / 2);
    if (await this.deliveries.waitFor(() => this.deliveries.accounted >= target, this.c.idleMs)) return;
    this.warnings.push(
      `publish window disabled: no delivery for ${this.c.idleMs} ms with ${this.inFlight()} in flight`,
    );
    this.windowDeliveries = 0;
  }
}

/** The open loop: warmup and measured messages as one paced schedule, each stamped with its scheduled time. */
async function publishOpenLoop(
  nc: NatsConnection,
  c: CaseConfig,
  rate: number,
): Promise<{ report: OpenLoopReport; startAt: number }> {
  const paced = await pace(
    c.warmup + c.total,
    rate,
    (seq, scheduledAt) => {
      const payload = allocatePayload(c.payload);
      writeStamp(payload, scheduledAt, seq);
      nc.publish(SUBJECT, payload);
    },
    { measuredFrom: c.warmup },
  );
  await nc.flush();
  return { report: openLoopReport(rate, paced), startAt: paced.startAt + (c.warmup * 1000) / rate };
}

export async function measureNats(o: HarnessOptions): Promise<CaseReport> {
  const openLoop = o.rate !== undefined;
  const c: CaseConfig = {
    name: openLoop
      ? `nats/f${o.fanout}-r${o.rate}-p${o.payload}`
      : `nats/f${o.fanout}-b${o.batch}-p${o.payload}-${encodingName(o.binary)}`,
    warmup: o.warmup,
    total: o.total,
    payload: o.payload,
    fanout: o.fanout,
    batch: o.batch,
    binary: o.binary,
    idleMs: o.idleMs,
    pubConns: 1,
    pubStreamsPerConn: 1,
    pubSharding: 'hash_stream',
    pubStreamCount: 1,
    subConns: o.fanout,
    pubWindow: openLoop ? 0 : (o.window ?? defaultPubWindow(o.batch, o.payload)),
    rate: o.rate,
  };
  const warnings = o.binary ? ['NATS has one encoding: --binary changes nothing'] : [];
  const deliveries = new Deliveries(c.warmup, c.total);
  const connections: NatsConnection[] = [];
  try {
    for (let index = 0; index < c.fanout; index++) {
      const nc = await connect({ servers: o.server, name: `nats-latency-sub-${index}` });
      connections.push(nc);
      const onPayload = deliveries.listener(index === 0);
      nc.subscribe(SUBJECT, { callback: (error, msg) => error === null && onPayload(msg.data) });
      // The server holds the interest before the first publish.
      await nc.flush();
    }
    const publisher = await connect({ servers: o.server, name: 'nats-latency-pub' });
    connections.push(publisher);

    let start: number;
    let openLoopResult: OpenLoopReport | null = null;
    if (o.rate === undefined) {
      const load = new ClosedLoopPublisher(publisher, c, deliveries);
      await load.publishPhase(c.warmup, 0);
      if (!(await deliveries.waitFor(() => deliveries.warmupReceived >= c.warmup * c.fanout, c.idleMs))) {
        warnings.push(`warmup incomplete: ${deliveries.warmupReceived} of ${c.warmup * c.fanout} deliveries`);
      }
      start = performance.now();
      await load.publishPhase(c.total, c.warmup);
      warnings.push(...load.warnings);
    } else {
      const run = await publishOpenLoop(publisher, c, o.rate);
      start = run.startAt;
      openLoopResult = run.report;
    }
    const published = performance.now();
    await deliveries.waitFor(() => deliveries.measuredReceived >= c.total * c.fanout, c.idleMs);
    if (openLoopResult !== null && deliveries.warmupReceived < c.warmup * c.fanout) {
      warnings.push(`warmup incomplete: ${deliveries.warmupReceived} of ${c.warmup * c.fanout} deliveries`);
    }
    // latencydemo's clock: until the publisher is done and the primary subscriber has everything.
    const primaryEnd = deliveries.primaryDoneAt >= 0 ? deliveries.primaryDoneAt : deliveries.primaryLastAt;
    const report = buildCaseReport(c, {
      sampleTotal: c.total,
      primaryReceived: deliveries.primaryReceived,
      deliveredTotal: deliveries.measuredReceived,
      // Core NATS reports no drops to a subscriber: whatever is missing is unaccounted.
      reportedDrops: 0,
      primary: summarize(deliveries.primaryLatencies),
      all: summarize(deliveries.allLatencies),
      elapsedMs: Math.max(published, primaryEnd) - start,
      warnings,
      openLoop: openLoopResult,
    });
    return { ...report, pub_sharding: 'none' };
  } finally {
    await Promise.all(connections.map((nc) => nc.close()));
  }
}

function printHuman(c: CaseReport): void {
  console.log(
    `Results (publish n = ${c.publish_total}, sampled ${c.sample_total}, received ${c.received}, dropped ${c.dropped}) ` +
      `payload=${c.payload}B fanout=${c.fanout} batch=${c.batch}:`,
  );
  console.log(`  delivered total = ${c.delivered_total} of ${c.expected_deliveries}`);
  console.log(`  p50 = ${c.p50_us} us, p99 = ${c.p99_us} us, p999 = ${c.p999_us} us, max = ${c.max_us} us`);
  console.log(`  throughput = ${c.throughput_msgs} msg/s, delivered = ${c.delivered_throughput_msgs} msg/s`);
  console.log(`  delivered = ${c.delivered_mb_s} MB/s`);
  const o = c.open_loop;
  if (o !== null) {
    console.log(
      `  open loop: rate ${o.rate_msgs} msg/s, achieved ${o.achieved_rate_msgs} msg/s, publisher lag ` +
        `p50 ${o.publisher_lag_p50_us} us, p99 ${o.publisher_lag_p99_us} us, max ${o.publisher_lag_max_us} us`,
    );
  }
  for (const warning of c.warnings) console.log(`  warning: ${warning}`);
}

async function main(): Promise<number> {
  const command = perfCommand('nats_latency')
    .description("latencydemo's workload against nats-server; same flags and --json report")
    .option('--warmup <n>', 'messages before measuring', nonNegativeInteger, 1000)
    .option('--total <n>', 'measured messages', positiveInteger, 10000)
    .option('--payload <bytes>', 'bytes after the 16-byte stamp header', nonNegativeInteger, 0)
    .option('--fanout <n>', 'subscriber connections', positiveInteger, 1)
    .option('--batch <n>', 'publishes per batch', positiveInteger, 1)
    .option(
      '--window <batches>',
      "batches in flight until delivered to every subscriber, as latencydemo's --pub-window; 0: unbounded " +
        "(default: latencydemo's default for the batch and payload)",
      nonNegativeInteger,
    )
    .option(
      '--rate <msgs/s>',
      "open loop, as latencydemo's --rate: evenly spaced single publishes, latency from the scheduled time",
      positiveInteger,
    )
    .option('--duration <s>', 'with --rate: measure for this long (--total = rate × duration)', Number)
    .option('--binary', 'accepted for symmetry with latencydemo; NATS has one encoding', false)
    .option(
      '--idle-ms <ms>',
      'give up waiting for deliveries after this long without one',
      positiveInteger,
      2000,
    )
    .option('--server <host:port>', 'a running nats-server (default: start one)')
    .option('--json', 'print the report as JSON (latencydemo schema 1)', false)
    .parse();
  const o = command.opts<
    Omit<HarnessOptions, 'server'> & { server?: string; json: boolean; duration?: number }
  >();
  let total = o.total;
  if (o.duration !== undefined) {
    if (o.rate === undefined || !(o.duration > 0))
      throw new UsageError('--duration needs --rate and seconds > 0');
    // As latencydemo: --total would be replaced by rate × duration without a word.
    if (command.getOptionValueSource('total') === 'cli')
      throw new UsageError('--duration and --total exclude each other (--total = rate × duration)');
    total = Math.max(1, Math.round(o.rate * o.duration));
  }
  // As latencydemo: batch 1 without --binary awaits each publish's ack, so no window applies.
  if (o.window !== undefined && o.rate === undefined && usesAcks(o)) {
    throw new UsageError(
      '--window bounds unacknowledged batches: at batch 1 without --binary each publish awaits its ack ' +
        '(give --batch above 1, or --binary)',
    );
  }
  if (o.rate !== undefined && (o.batch !== 1 || o.binary || o.window !== undefined)) {
    throw new UsageError('--rate publishes single messages: --batch, --binary and --window do not apply');
  }

  let spawned: RunningNatsServer | undefined;
  if (o.server === undefined) spawned = await startNatsServer(requireNatsServer());
  try {
    const result = await measureNats({ ...o, total, server: o.server ?? spawned!.address });
    if (!o.json) {
      printHuman(result);
    } else {
      const report: LatencyReport & { server_version?: string } = {
        tool: 'nats_latency',
        schema: 1,
        broker: spawned === undefined ? o.server! : 'spawned',
        node: process.version,
        env: {},
        ...(spawned === undefined ? {} : { server_version: spawned.version }),
        cases: [result],
      };
      console.log(JSON.stringify(report));
    }
    return result.valid ? 0 : 1;
  } finally {
    await spawned?.stop();
  }
}

runIfMain(import.meta.url, main);
