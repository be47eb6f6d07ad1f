// A lone acked publish goes on the wire to its current subscribers before its ack goes to the publisher
// (as NATS answers a flush only once the messages before it went to their subscribers): the subscriber's
// latency is then not the ack's send plus the publisher's next message. What a receiving host reads first
// from two sockets is its own affair, so the order is observed where the broker decides it: the datagrams
// its socket sends, in order (every datagram through Node's dgram, FELIX_UDP_GSO off, so each is seen).
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { client, startBroker } from './sdk-harness.js';

const PAYLOAD = 1000;
interface Sent {
  readonly port: number;
  readonly bytes: number;
}
type Entry = Sent | { readonly acked: number };

const originalSend = dgram.Socket.prototype.send;
afterEach(() => {
  dgram.Socket.prototype.send = originalSend;
});

/** Records every datagram the socket bound to `port` sends, with the test's own marks between them. */
function recordSends(port: number, log: Entry[]): void {
  dgram.Socket.prototype.send = function (this: dgram.Socket, ...args: unknown[]) {
    if (this.address().port === port) {
      // send(buf, offset, length, port, host) for a server's datagrams.
      log.push({ port: args[3] as number, bytes: args[2] as number });
    }
    return (originalSend as (...a: unknown[]) => void).apply(this, args);
  } as typeof dgram.Socket.prototype.send;
}

describe('delivery before the ack', () => {
  // Batched (the default): the event is cut at the end of the turn. FELIX_FANOUT_BATCH=1: it is written
  // to its subscriber while the publish is read, beside the ack.
  it.each([
    ['batched', {}],
    ['FELIX_FANOUT_BATCH=1', { fanoutBatch: 1 }],
  ])('puts each lone event on the wire before its ack (%s)', async (_name, batching) => {
    const broker = await startBroker({ udpGso: 'off', ...batching });
    const subscriber = await client(broker);
    const publisher = await client(broker);
    await publisher.publish('order', 'create');
    await subscriber.subscribe('order', { onEvent: () => {} });
    const log: Entry[] = [];
    recordSends(broker.quicAddress.port, log);
    const publishes = 200;
    const payload = new Uint8Array(PAYLOAD).fill(7);
    for (let i = 0; i < publishes; i++) {
      await publisher.publish('order', payload, { ack: 'per_message' });
      log.push({ acked: i });
    }
    // The event is the only datagram carrying the payload; the ack is the last datagram to another port
    // before the publish resolved (the one that resolved it).
    const eventPorts = new Set(log.flatMap((e) => ('port' in e && e.bytes > PAYLOAD ? [e.port] : [])));
    expect(eventPorts.size).toBe(1);
    const subscriberPort = [...eventPorts][0]!;
    const ackFirst: number[] = [];
    let cycleStart = 0;
    for (let i = 0; i < log.length; i++) {
      const mark = log[i]!;
      if (!('acked' in mark)) continue;
      const cycle = log.slice(cycleStart, i) as Sent[];
      const event = cycle.findIndex((s) => s.port === subscriberPort && s.bytes > PAYLOAD);
      const ack = cycle.findLastIndex((s) => s.port !== subscriberPort);
      if (ack < 0 || event < 0 || ack < event) ackFirst.push(mark.acked);
      cycleStart = i + 1;
    }
    expect(ackFirst).toEqual([]);
  });
});
