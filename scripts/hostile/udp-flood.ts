#!/usr/bin/env node
/**
 * The UDP flooder of the cross-process run (issue 10, 5b): sends garbage datagrams, forged short-header
 * packets and fake Initials (scripts/hostile/garbage-datagrams.ts) to a broker's QUIC port on 127.0.0.1
 * at a bounded rate for a bounded time, then prints one JSON summary line on stdout.
 *
 *   node dist/scripts/hostile/udp-flood.js --port 5000 [--rate 2000] [--duration-ms 20000] [--seed N]
 */
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { DATAGRAM_KINDS, RandomPool, nextDatagram, type DatagramKind } from './garbage-datagrams.js';
import { Prng, randomSeed } from './prng.js';
import type { FloodSummary } from './summaries.js';

// Loopback only: this program must never aim at anything but a broker on this machine.
const TARGET_HOST = '127.0.0.1';
const TICK_MS = 10;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      rate: { type: 'string', default: '2000' },
      'duration-ms': { type: 'string', default: '20000' },
      seed: { type: 'string' },
    },
  });
  if (values.port === undefined) throw new Error('--port is required (the broker is on 127.0.0.1)');
  const port = Number(values.port);
  const rate = Number(values.rate);
  const durationMs = Number(values['duration-ms']);
  const seed = values.seed === undefined ? randomSeed() : Number(values.seed) >>> 0;
  process.stderr.write(`udp-flood: seed ${seed}, ${rate} datagrams/s for ${durationMs} ms\n`);

  const rng = new Prng(seed);
  const pool = new RandomPool(rng);
  const summary: FloodSummary = {
    seed,
    sent: Object.fromEntries(DATAGRAM_KINDS.map((k) => [k, 0])) as Record<DatagramKind, number>,
    sendErrors: 0,
    received: 0,
  };
  const socket = createSocket('udp4');
  socket.on('message', () => summary.received++);
  socket.on('error', () => summary.sendErrors++);
  await new Promise<void>((resolve) => socket.bind(0, TARGET_HOST, resolve));

  const started = Date.now();
  let owed = 0;
  // One burst per tick, sized by the time that really passed, so a late timer does not lower the rate
  // and a busy machine does not make the flooder catch up in one huge burst either (owed is capped).
  let last = started;
  while (Date.now() - started < durationMs) {
    await new Promise((r) => setTimeout(r, TICK_MS));
    const now = Date.now();
    owed = Math.min(owed + ((now - last) * rate) / 1000, (rate * 5 * TICK_MS) / 1000);
    last = now;
    for (; owed >= 1; owed--) {
      const { kind, bytes } = nextDatagram(rng, pool);
      summary.sent[kind]++;
      socket.send(bytes, port, TARGET_HOST, (err) => {
        if (err) summary.sendErrors++;
      });
    }
  }
  // Let the last sends complete before closing.
  await new Promise((r) => setTimeout(r, 50));
  socket.close();
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`udp-flood: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
