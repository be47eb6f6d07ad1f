#!/usr/bin/env node
/**
 * A flood of genuine, never-finished QUIC handshakes (issue 11): every datagram is a real client's first
 * Initial — a fresh quiche client connection's ClientHello, so it decrypts and passes every check a server
 * makes before keeping state — sent from one socket that never answers what comes back. Sends exactly
 * `--count` Initials at `--rate` per second (a slow machine stretches the time, never lowers the count),
 * counts what the server sends back, and prints one JSON summary line on stdout.
 *
 *   node dist/scripts/hostile/initial-flood.js --port 5000 [--rate 1000] [--count 30000]
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { quiche } from '../../transport/native.js';
import { applySettings, resolveTransportSettings } from '../../transport/settings.js';
import type { InitialFloodSummary } from './summaries.js';

// Loopback only: this program must never aim at anything but a broker on this machine.
const TARGET_HOST = '127.0.0.1';
const TICK_MS = 10;
// Long-header packet type bits of a Retry in QUIC version 1.
const RETRY_TYPE = 3;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      rate: { type: 'string', default: '1000' },
      count: { type: 'string', default: '30000' },
    },
  });
  if (values.port === undefined) throw new Error('--port is required (the broker is on 127.0.0.1)');
  const port = Number(values.port);
  const rate = Number(values.rate);
  const count = Number(values.count);
  if (!(rate > 0) || !(count > 0)) throw new Error('--rate and --count must be positive');

  const summary: InitialFloodSummary = {
    sent: 0,
    sentBytes: 0,
    sendErrors: 0,
    received: 0,
    receivedBytes: 0,
    retries: 0,
    elapsedMs: 0,
  };
  const socket = createSocket('udp4');
  socket.on('message', (msg) => {
    summary.received++;
    summary.receivedBytes += msg.length;
    if ((msg[0]! & 0x80) !== 0 && ((msg[0]! >> 4) & 3) === RETRY_TYPE) summary.retries++;
  });
  socket.on('error', () => summary.sendErrors++);
  await new Promise<void>((resolve) => socket.bind(0, TARGET_HOST, resolve));
  const local = { host: TARGET_HOST, port: socket.address().port };
  const peer = { host: TARGET_HOST, port };

  const config = quiche.Config.withBoringSslCtx(false, false, null, null, null, null);
  applySettings(config, resolveTransportSettings(), 1350);
  const out = Buffer.alloc(65_535);
  const initial = (): Buffer => {
    const q = quiche.Connection.connect('localhost', randomBytes(16), local, peer, config);
    const r = q.send(out);
    if (r === null) throw new Error('quiche produced no Initial');
    return Buffer.from(out.subarray(0, r[0]));
  };

  const started = Date.now();
  let owed = 0;
  let last = started;
  // One burst per tick, sized by the time that really passed (capped, so a stall is not made up at once).
  while (summary.sent < count) {
    await new Promise((r) => setTimeout(r, TICK_MS));
    const now = Date.now();
    owed = Math.min(owed + ((now - last) * rate) / 1000, (rate * 5 * TICK_MS) / 1000);
    last = now;
    for (; owed >= 1 && summary.sent < count; owed--) {
      const bytes = initial();
      summary.sent++;
      summary.sentBytes += bytes.length;
      socket.send(bytes, port, TARGET_HOST, (err) => {
        if (err) summary.sendErrors++;
      });
    }
  }
  summary.elapsedMs = Date.now() - started;
  // What the server still sends (retransmissions of handshakes it started) arrives meanwhile.
  await new Promise((r) => setTimeout(r, 500));
  socket.close();
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`initial-flood: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
