/**
 * A pub/sub burst against a running broker, for bench/memory/idle-return.sh: one client with 10
 * subscriptions (queue policy block, so every event arrives) to one stream, and 64,000 events of 4 KiB
 * published as batches of 64, four batches in flight: 640,000 deliveries, ~2.6 GB through the broker.
 *
 *   node dist/bench/memory/pubsub-burst.js <host:port>
 */
import { connect } from '../../client/index.js';

const SUBSCRIBERS = 10;
const EVENTS = 64_000;
const BATCH = 64;
const IN_FLIGHT = 4;

const broker = process.argv[2];
if (broker === undefined) throw new Error('usage: pubsub-burst <host:port>');
const client = await connect({ broker, onWarning: () => {} });
const subscriptions = [];
for (let i = 0; i < SUBSCRIBERS; i++)
  subscriptions.push(await client.subscribe('burst', { queuePolicy: 'block' }));
const delivered = Promise.all(
  subscriptions.map(async (subscription) => {
    let seen = 0;
    for await (const _event of subscription) if (++seen === EVENTS) break;
    return seen;
  }),
);
const payloads = Array.from({ length: BATCH }, () => Buffer.alloc(4096, 1));
for (let sent = 0; sent < EVENTS; sent += BATCH * IN_FLIGHT) {
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => client.publishBatch('burst', payloads)));
}
const counts = await delivered;
console.log(`delivered ${counts.reduce((a, b) => a + b, 0)}`);
await client.close();
