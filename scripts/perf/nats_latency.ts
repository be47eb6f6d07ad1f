// latencydemo's workload against NATS: the same flags, the same measurement and the same JSON report, so
// that the comparison reads both alike. It borrows latencydemo's own pieces for everything that defines a
// number (the 16-byte stamp header, the HDR percentiles, the case report with Felix's definitions of
// elapsed time and rates); only the transport differs. Core NATS has no batch publish: a batch here is
// `batch` publishes back to back followed by a flush (a PING/PONG round trip, which is how its client
// batches), the next batch waiting for it. Fanout = that many subscriber connections. Without --server it
// starts its own nats-server process, as latencydemo spawns its own broker.
import { build, type Histogram } from 'hdr-histogram-js';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { connect, type NatsConnection } from 'nats';
import { buildCaseReport, type CaseReport } from '../../latencydemo/case-report.js';
import type { CaseConfig, CaseSettings } from '../../latencydemo/cases.js';
import { allocatePayload, readSentAt, readSeq, writeStamp } from '../../latencydemo/stamp.js';
import { summarize } from '../../latencydemo/subscribers.js';
import { nonNegativeInteger, positiveInteger, runIfMain } from './cli.js';
import type { LatencyReport } from './latency_report.js';
import { encodingName } from './matrix.js';
import { requireNatsServer, startNatsServer, type RunningNatsServer } from './nats_server.js';

/** latencydemo's workload settings, and where nats-server listens. */
type HarnessOptions = Pick<
  CaseSettings,
  'warmup' | 'total' | 'payload' | 'fanout' | 'batch' | 'binary' | 'idleMs'
> & {
  readonly server: string;
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

  listener(primary: boolean): (payload: Uint8Array) => void {
    return (payload) => {
      const now = performance.now();
      this.lastEventAt = now;
      if (readSeq(payload) < this.warmup) {
        this.warmupReceived++;
        return;
      }
      const latencyNs = Math.round((now - readSentAt(payload)) * NS_PER_MS);
      this.allLatencies.recordValue(latencyNs);
      this.measuredReceived++;
      if (primary) {
        this.primaryLatencies.recordValue(latencyNs);
        this.primaryLastAt = now;
        if (++this.primaryReceived === this.total) this.primaryDoneAt = now;
      }
    };
  }

  /** Resolves once `done()` holds, or after idleMs without any delivery. */
  waitFor(done: () => boolean, idleMs: number): Promise<boolean> {
    this.lastEventAt = Math.max(this.lastEventAt, performance.now());
    return new Promise((resolve) => {
      const check = (): void => {
        if (done()) resolve(true);
        else if (performance.now() - this.lastEventAt >= idleMs) resolve(false);
        else setTimeout(check, 1);
      };
      check();
    });
  }
}

async function publishPhase(
  nc: NatsConnection,
  c: CaseConfig,
  count: number,
  firstSeq: number,
): Promise<void> {
  for (let sent = 0; sent < count;) {
    const n = Math.min(c.batch, count - sent);
    // One send time per batch, as latencydemo stamps a batch. A fresh buffer per message: the NATS client
    // keeps a reference to it until its next write, where latencydemo's SDK copies.
    const sentAt = performance.now();
    for (let i = 0; i < n; i++) {
      const payload = allocatePayload(c.payload);
      writeStamp(payload, sentAt, firstSeq + sent + i);
      nc.publish(SUBJECT, payload);
    }
    await nc.flush();
    sent += n;
  }
}

export async function measureNats(o: HarnessOptions): Promise<CaseReport> {
  const c: CaseConfig = {
    name: `nats/f${o.fanout}-b${o.batch}-p${o.payload}-${encodingName(o.binary)}`,
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
    // One batch in flight to the server (the flush), where latencydemo bounds batches until delivered.
    pubWindow: 1,
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

    await publishPhase(publisher, c, c.warmup, 0);
    if (!(await deliveries.waitFor(() => deliveries.warmupReceived >= c.warmup * c.fanout, c.idleMs))) {
      warnings.push(`warmup incomplete: ${deliveries.warmupReceived} of ${c.warmup * c.fanout} deliveries`);
    }
    const start = performance.now();
    await publishPhase(publisher, c, c.total, c.warmup);
    const published = performance.now();
    await deliveries.waitFor(() => deliveries.measuredReceived >= c.total * c.fanout, c.idleMs);
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
  for (const warning of c.warnings) console.log(`  warning: ${warning}`);
}

async function main(): Promise<number> {
  const o = new Command('nats_latency')
    .description("latencydemo's workload against nats-server; same flags and --json report")
    .option('--warmup <n>', 'messages before measuring', nonNegativeInteger, 1000)
    .option('--total <n>', 'measured messages', positiveInteger, 10000)
    .option('--payload <bytes>', 'bytes after the 16-byte stamp header', nonNegativeInteger, 0)
    .option('--fanout <n>', 'subscriber connections', positiveInteger, 1)
    .option('--batch <n>', 'publishes per flush', positiveInteger, 1)
    .option('--binary', 'accepted for symmetry with latencydemo; NATS has one encoding', false)
    .option(
      '--idle-ms <ms>',
      'give up waiting for deliveries after this long without one',
      positiveInteger,
      2000,
    )
    .option('--server <host:port>', 'a running nats-server (default: start one)')
    .option('--json', 'print the report as JSON (latencydemo schema 1)', false)
    .parse()
    .opts<Omit<HarnessOptions, 'server'> & { server?: string; json: boolean }>();

  let spawned: RunningNatsServer | undefined;
  if (o.server === undefined) spawned = await startNatsServer(requireNatsServer());
  try {
    const result = await measureNats({ ...o, server: o.server ?? spawned!.address });
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
