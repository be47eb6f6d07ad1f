// latencydemo's workload against NATS JetStream with file storage (`nats-server -js`), for the durable
// comparison of issue 13: the same 16-byte stamp header, HDR percentiles and case report as latencydemo
// (its own code), like scripts/perf/nats_latency.ts does for core NATS. Publishes are JetStream publishes
// (each answered by a PubAck once stored). Batch 1 awaits each PubAck before the next publish, as latencydemo
// awaits each ack at batch 1. Larger batches keep the same window as latencydemo (--window, default
// latencydemo's --pub-window default): at most that many batches in flight until delivered to every
// subscriber, and at most that many batches whose PubAcks are still awaited. Each subscriber is an ordered
// push consumer on its own connection, starting at new messages. The server is started here, storing in a
// fresh directory.
//   node dist/bench/storage/jetstream-latency.js --fanout 1 --batch 64 --payload 256 --total 200000 [--json]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import { Command } from 'commander';
import { build } from 'hdr-histogram-js';
import { connect, consumerOpts, StorageType, type NatsConnection } from 'nats';
import { buildCaseReport } from '../../latencydemo/case-report.js';
import { defaultPubWindow } from '../../latencydemo/publish-window.js';
import type { CaseConfig } from '../../latencydemo/cases.js';
import { allocatePayload, readSentAt, readSeq, writeStamp } from '../../latencydemo/stamp.js';
import { summarize } from '../../latencydemo/subscribers.js';
import { findNatsServer } from '../../scripts/perf/nats_server.js';

const SUBJECT = 'latency';
const STREAM = 'LATENCY';

function histogram() {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, autoResize: true });
}

async function startJetStream(
  bin: string,
  dir: string,
): Promise<{ address: string; version: string; stop: () => Promise<void> }> {
  const child = spawn(bin, ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`nats-server not ready:\n${log}`)), 10_000);
    child.stderr.on('data', (d: Buffer) => {
      log += d.toString();
      const address = /Listening for client connections on (\S+:\d+)/.exec(log)?.[1];
      if (address !== undefined && log.includes('Server is ready')) {
        clearTimeout(timer);
        resolve({ address, version: /Version:\s+(\S+)/.exec(log)?.[1] ?? 'unknown', stop });
      }
    });
    void exited.then(() => reject(new Error(`nats-server exited:\n${log}`)));
  });
}

async function main(): Promise<void> {
  const o = new Command('jetstream-latency')
    .option('--warmup <n>', 'messages before measuring', (v) => Number(v), 1000)
    .option('--total <n>', 'measured messages', (v) => Number(v), 10000)
    .option('--payload <bytes>', 'bytes after the 16-byte stamp header', (v) => Number(v), 0)
    .option('--fanout <n>', 'subscribers', (v) => Number(v), 1)
    .option('--batch <n>', 'publishes per awaited batch', (v) => Number(v), 1)
    .option('--idle-ms <ms>', 'give up after this long without a delivery', (v) => Number(v), 2000)
    .option(
      '--window <batches>',
      "batches in flight (until delivered to every subscriber, and until PubAcked) at batch > 1; default latencydemo's --pub-window default",
      (v) => Number(v),
    )
    .option('--json', 'print latencydemo-style JSON', false)
    .parse()
    .opts<{
      warmup: number;
      total: number;
      payload: number;
      fanout: number;
      batch: number;
      idleMs: number;
      window?: number;
      json: boolean;
    }>();
  const bin = findNatsServer();
  if (bin === undefined) throw new Error('apt-get install nats-server');
  const dir = mkdtempSync(join(tmpdir(), 'felix-jetstream-'));
  const server = await startJetStream(bin, dir);
  const c: CaseConfig = {
    name: `jetstream/f${o.fanout}-b${o.batch}-p${o.payload}`,
    warmup: o.warmup,
    total: o.total,
    payload: o.payload,
    fanout: o.fanout,
    batch: o.batch,
    binary: false,
    idleMs: o.idleMs,
    pubConns: 1,
    pubStreamsPerConn: 1,
    pubSharding: 'hash_stream',
    pubStreamCount: 1,
    subConns: o.fanout,
    // Batch 1 is acked one publish at a time, as latencydemo's acked batch 1.
    pubWindow: o.batch <= 1 ? 1 : (o.window ?? defaultPubWindow(o.batch, o.payload)),
  };
  const connections: NatsConnection[] = [];
  try {
    const publisher = await connect({ servers: server.address });
    connections.push(publisher);
    const jsm = await publisher.jetstreamManager();
    await jsm.streams.add({ name: STREAM, subjects: [SUBJECT], storage: StorageType.File });
    const js = publisher.jetstream();
    const primary = histogram();
    const all = histogram();
    let warmupReceived = 0;
    let measured = 0;
    let primaryReceived = 0;
    let primaryDoneAt = -1;
    let lastAt = performance.now();
    /** Deliveries to all subscribers, both phases (what the window counts). */
    let delivered = 0;
    let publishedTotal = 0;
    /** The publisher waiting for room in the window: woken by the delivery that makes it. */
    let room: { target: number; resolve: () => void } | null = null;
    let windowOpen = true;
    const warnings: string[] = [];
    const waitForRoom = (target: number): Promise<void> =>
      new Promise((resolve) => {
        const idle = setInterval(() => {
          if (performance.now() - lastAt < c.idleMs) return;
          // As latencydemo: a window that never frees is given up, with a warning, rather than hang.
          windowOpen = false;
          warnings.push(`publish window disabled: no delivery for ${c.idleMs} ms`);
          done();
        }, c.idleMs);
        const done = (): void => {
          clearInterval(idle);
          room = null;
          resolve();
        };
        room = { target, resolve: done };
      });
    for (let i = 0; i < c.fanout; i++) {
      const nc = await connect({ servers: server.address });
      connections.push(nc);
      const opts = consumerOpts();
      opts.orderedConsumer();
      opts.deliverNew();
      opts.callback((err, msg) => {
        if (err !== null || msg === null) return;
        const now = performance.now();
        lastAt = now;
        delivered++;
        if (room !== null && delivered >= room.target) room.resolve();
        if (readSeq(msg.data) < c.warmup) {
          warmupReceived++;
          return;
        }
        const ns = Math.round((now - readSentAt(msg.data)) * 1e6);
        all.recordValue(ns);
        measured++;
        if (i === 0) {
          primary.recordValue(ns);
          if (++primaryReceived === c.total) primaryDoneAt = now;
        }
      });
      await js.subscribe(SUBJECT, opts);
      await nc.flush();
    }
    const windowDeliveries = c.pubWindow * c.batch * c.fanout;
    const publish = async (count: number, first: number): Promise<void> => {
      /** PubAcks of the batches still awaited, oldest first: at most the window of them. */
      const pending: Promise<unknown>[] = [];
      for (let sent = 0; sent < count;) {
        const n = Math.min(c.batch, count - sent);
        if (pending.length >= c.pubWindow) await pending.shift();
        // As latencydemo: once the window of deliveries is full, wait until half of it is free.
        if (windowOpen && publishedTotal * c.fanout + n * c.fanout - delivered > windowDeliveries) {
          lastAt = Math.max(lastAt, performance.now());
          await waitForRoom(publishedTotal * c.fanout - Math.floor(windowDeliveries / 2));
        }
        const sentAt = performance.now();
        const acks = [];
        for (let k = 0; k < n; k++) {
          const payload = allocatePayload(c.payload);
          writeStamp(payload, sentAt, first + sent + k);
          acks.push(js.publish(SUBJECT, payload));
        }
        pending.push(Promise.all(acks));
        sent += n;
        publishedTotal += n;
      }
      await Promise.all(pending);
    };
    const waitFor = (done: () => boolean): Promise<void> =>
      new Promise((resolve) => {
        lastAt = Math.max(lastAt, performance.now());
        const check = (): void => {
          if (done() || performance.now() - lastAt > c.idleMs) resolve();
          else setTimeout(check, 1);
        };
        check();
      });
    await publish(c.warmup, 0);
    await waitFor(() => warmupReceived >= c.warmup * c.fanout);
    const start = performance.now();
    await publish(c.total, c.warmup);
    const published = performance.now();
    await waitFor(() => measured >= c.total * c.fanout);
    const report = buildCaseReport(c, {
      sampleTotal: c.total,
      primaryReceived,
      deliveredTotal: measured,
      reportedDrops: 0,
      primary: summarize(primary),
      all: summarize(all),
      elapsedMs: Math.max(published, primaryDoneAt) - start,
      warnings,
    });
    if (o.json)
      console.log(
        JSON.stringify({ tool: 'jetstream-latency', server_version: server.version, cases: [report] }),
      );
    else console.log(report);
  } finally {
    await Promise.all(connections.map((nc) => nc.close()));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
