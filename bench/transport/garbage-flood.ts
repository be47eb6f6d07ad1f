// Garbage benchmark, flooder child: sends one class of garbage datagrams to the server, either `count`
// of them paced at `rate` per second, or (rate 0) as fast as it can for `durationMs`. Counts what the
// server sends back (version negotiation, closes), then reports one line and exits.
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { report } from './garbage-children.js';
import { garbagePool, type GarbageClass } from './garbage-packets.js';

export interface FloodArgs {
  readonly port: number;
  readonly kind: GarbageClass;
  /** Datagrams per second; 0 = as fast as the socket takes them. */
  readonly rate: number;
  /** Paced mode: how many to send. */
  readonly count: number;
  /** Full-rate mode: for how long. */
  readonly durationMs: number;
}

export interface FloodReport {
  readonly sent: number;
  readonly seconds: number;
  /** The flooder's own CPU time (user + system), so the parent can tell other processes' load apart. */
  readonly cpuMicros: number;
  readonly replies: number;
  readonly replyBytes: number;
}

const POOL_SIZE = 4096;
// Datagrams handed to one turn of the loop; libuv's queue is kept below QUEUE_LIMIT so memory stays flat.
const BATCH = 64;
const QUEUE_LIMIT = 1024;
// Paced mode gives up this long after its schedule ends (a stalled socket must not hang the run).
const PACED_GRACE_MS = 10_000;
const REPLY_WAIT_MS = 300;

const args = JSON.parse(process.argv[2]!) as FloodArgs;
const pool = garbagePool(args.kind, POOL_SIZE);
const socket = dgram.createSocket('udp4');
let replies = 0;
let replyBytes = 0;
socket.on('message', (m) => {
  replies++;
  replyBytes += m.length;
});
// The server's port may answer with ICMP unreachable once it is gone: not the flooder's concern.
socket.on('error', () => undefined);
await new Promise<void>((resolve) => socket.connect(args.port, '127.0.0.1', () => resolve()));

const paced = args.rate > 0;
const deadlineMs = paced ? (args.count / args.rate) * 1000 + PACED_GRACE_MS : args.durationMs;
const started = performance.now();
let sent = 0;

await new Promise<void>((resolve) => {
  const turn = (): void => {
    const elapsed = performance.now() - started;
    if (elapsed >= deadlineMs || (paced && sent >= args.count)) {
      resolve();
      return;
    }
    let allowed = paced ? Math.min(args.count, Math.floor((elapsed * args.rate) / 1000)) - sent : BATCH;
    if (allowed > BATCH) allowed = BATCH;
    for (let i = 0; i < allowed && socket.getSendQueueCount() < QUEUE_LIMIT; i++) {
      socket.send(pool[sent % POOL_SIZE]!);
      sent++;
    }
    setImmediate(turn);
  };
  turn();
});
const seconds = (performance.now() - started) / 1000;
await new Promise((r) => setTimeout(r, REPLY_WAIT_MS));
socket.close();
const cpu = process.cpuUsage();
const result: FloodReport = { sent, seconds, cpuMicros: cpu.user + cpu.system, replies, replyBytes };
report(result);
