// Subscription ids are counted per connection, so an id alone names no subscription: wherever the broker
// shows one to an operator — the dashboard's slowest subscribers, the eviction log line — it shows the
// connection too, numbered as the connections table and the `connection opened` lines number them.
// A real broker process; two SDK clients whose subscriptions stop reading (both get subscription id 1).
import { get, type IncomingMessage } from 'node:http';
import { expect, it } from 'vitest';
import type { DashboardSnapshot } from '../../broker/dashboard/snapshot-types.js';
import { eventually, publisherOf, stalledSubscriber, startBroker } from '../slow-consumer/fixture.js';

const STREAM = 'shown';
const PAYLOAD = Buffer.alloc(256, 3);

/** Reads the dashboard feed until a snapshot satisfies `wanted`; returns that snapshot. */
function snapshotWhere(
  httpPort: number,
  wanted: (s: DashboardSnapshot) => boolean,
): Promise<DashboardSnapshot> {
  return new Promise((resolve, reject) => {
    get(`http://127.0.0.1:${httpPort}/dashboard/events`, (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        for (let m = /data: (.*)\n\n/.exec(text); m !== null; m = /data: (.*)\n\n/.exec(text)) {
          text = text.slice(m.index + m[0].length);
          const snapshot = JSON.parse(m[1]!) as DashboardSnapshot;
          if (wanted(snapshot)) {
            res.destroy();
            resolve(snapshot);
            return;
          }
        }
      });
      res.on('error', reject);
    }).on('error', reject);
  });
}

it('names the connection of each slow subscriber on the dashboard, as its connections table numbers it', async () => {
  const broker = await startBroker({
    FELIX_SUB_QUEUE_CAPACITY: '64',
    FELIX_SLOW_SUB_MAX_FULL_MS: '0',
    FELIX_SLOW_SUB_MAX_DROPS: '0',
  });
  await stalledSubscriber(broker, STREAM);
  await stalledSubscriber(broker, STREAM);
  const publisher = await publisherOf(broker);
  let publishing = true;
  const pump = (async () => {
    while (publishing)
      await Promise.all(Array.from({ length: 64 }, () => publisher.publish(STREAM, PAYLOAD)));
  })();
  try {
    const snapshot = await snapshotWhere(
      broker.httpPort,
      (s) =>
        s.slowSubscribers.filter((sub) => sub.stream.endsWith(`/${STREAM}`) && sub.dropped > 0).length === 2,
    );
    const slow = snapshot.slowSubscribers.filter((sub) => sub.stream.endsWith(`/${STREAM}`));
    // The same id on both, told apart by their connections, each one the connections table lists.
    expect(slow.map((sub) => sub.id)).toEqual([1, 1]);
    expect(new Set(slow.map((sub) => sub.connection)).size).toBe(2);
    const listed = new Map(snapshot.connectionList.map((c) => [c.id, c]));
    for (const sub of slow) expect(listed.get(sub.connection)?.subscriptions).toBe(1);
  } finally {
    publishing = false;
    await pump;
  }
}, 60_000);

it('says which connection a slow subscriber it evicts was on, numbered as its connection lines', async () => {
  const broker = await startBroker({ FELIX_SUB_QUEUE_CAPACITY: '64', FELIX_SLOW_SUB_MAX_FULL_MS: '100' });
  const stalled = await stalledSubscriber(broker, STREAM);
  const publisher = await publisherOf(broker);
  let ended = false;
  void stalled.closed.then(() => (ended = true));
  while (!ended) await Promise.all(Array.from({ length: 64 }, () => publisher.publish(STREAM, PAYLOAD)));
  await eventually(() => broker.logs.some((l) => l.msg === 'evicting slow subscriber'), 'the eviction line');
  const line = broker.logs.find((l) => l.msg === 'evicting slow subscriber')!;
  expect(line).toMatchObject({ subscription: 1, stream: STREAM });
  // The stalled client's connection: the one its `connection opened` line numbered, carrying the eviction.
  const opened = broker.logs.filter((l) => l.msg === 'connection opened').map((l) => l.connection);
  expect(opened).toContain(line.connection);
  expect(line.connection).toEqual(expect.any(Number));
}, 60_000);
