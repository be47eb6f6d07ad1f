// A defect in the broker — never a peer's input, so it is injected here by patching one method to throw —
// must cost one connection, not the process. The transport guards each connection's own handlers; these
// cases throw where no such guard is on the stack: a fan-out run by a publisher's turn (after the
// transport's flush, in a tick), a catch-up read completing from disk, an ack released by a commit on the
// storage's I/O callback, a stream's batch being cut, and the auth deadline's timer. Without the guards each ends the process (here:
// an unhandled error that fails the run). A real broker node (in process, real QUIC on loopback) and SDK
// clients; the SDK's reconnect shows the victim resuming without a gap.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { Subscription } from '../../broker/core/subscription.js';
import { Topic } from '../../broker/core/topic.js';
import { BrokerNode } from '../../broker/node.js';
import { ConnectionSession } from '../../broker/quic/connection-session.js';
import { Replies } from '../../broker/quic/replies.js';
import { connect, type FelixClient, type StatusEvent } from '../../client/index.js';
import { connectRaw } from './raw-client.js';
import { cliKeygen } from '../cli/run-cli.js';
import { eventually, metric } from '../e2e/sdk-harness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo();
});

async function startBroker(env: Record<string, string> = {}): Promise<BrokerNode> {
  const { config } = loadBrokerConfig({
    env,
    overrides: { quicBind: '127.0.0.1:0', brokerMetricsBind: '127.0.0.1:0' },
  });
  const node = await BrokerNode.start(config, { logger: pino({ level: 'silent' }) });
  cleanups.push(() => node.stop());
  return node;
}

async function client(node: BrokerNode): Promise<FelixClient & { readonly disconnects: number }> {
  const c = await connect({
    broker: `127.0.0.1:${node.quicAddress.port}`,
    env: { FELIX_RECONNECT_INITIAL_MS: '10' },
  });
  cleanups.push(() => c.close());
  const counted = Object.assign(c, { disconnects: 0 });
  void (async () => {
    for await (const e of c.status() as AsyncIterable<StatusEvent>)
      if (e.type === 'disconnect') counted.disconnects++;
  })();
  return counted;
}

function durableDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'felix-defect-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Replaces `proto[name]` for the test; `fail(self)` says whether this call throws. */
function inject<T extends object>(proto: T, name: keyof T & string, fail: (self: T) => boolean): void {
  const original = proto[name] as (...args: unknown[]) => unknown;
  (proto as Record<string, unknown>)[name] = function (this: T, ...args: unknown[]) {
    if (fail(this)) throw new Error(`injected defect in ${name}`);
    return original.apply(this, args);
  };
  cleanups.push(() => ((proto as Record<string, unknown>)[name] = original));
}

/** Fails the first call that `pick` accepts, and only that one. */
function once<T>(pick: (self: T) => boolean = () => true): (self: T) => boolean {
  let done = false;
  return (self) => {
    if (done || !pick(self)) return false;
    done = true;
    return true;
  };
}

const numbers = (n: number) => Array.from({ length: n }, (_, i) => i);
const payloads = (events: { payload: Uint8Array }[]) =>
  events.map((e) => Number(Buffer.from(e.payload).toString()));

describe('a defect outside the transport guard costs one connection, not the process', () => {
  it("a subscriber whose delivery throws in a publisher's turn: its connection goes; publisher and others go on", async () => {
    const node = await startBroker();
    const victim = await client(node);
    const victimGot: { payload: Uint8Array }[] = [];
    await victim.subscribe('fan', { onEvent: (e) => victimGot.push(e) });
    const [victimSub] = [...node.broker.subscriptions];
    const healthy = await client(node);
    const healthyGot: { payload: Uint8Array }[] = [];
    await healthy.subscribe('fan', { onEvent: (e) => healthyGot.push(e) });
    const publisher = await client(node);

    for (let i = 0; i < 10; i++) await publisher.publish('fan', String(i));
    inject(
      Subscription.prototype,
      'offer',
      once((s) => s === victimSub),
    );
    // Every publish is acked: the publisher's connection, whose turn ran the fan-out, is not the one to go.
    for (let i = 10; i < 40; i++) await publisher.publish('fan', String(i));

    await eventually(() => healthyGot.length === 40, 'the healthy subscriber to get all 40');
    expect(payloads(healthyGot)).toEqual(numbers(40));
    expect(publisher.disconnects + healthy.disconnects).toBe(0);
    expect(await metric(node, 'felix_internal_errors_total')).toBe(1);
    // The victim's connection was closed; its SDK reconnected and resumed where it left off.
    await eventually(() => victimGot.length === 40, 'the victim to resume after its reconnect');
    expect(victim.disconnects).toBe(1);
    expect(payloads(victimGot)).toEqual(numbers(40));
  });

  it('a catch-up from disk whose replay throws: that subscriber reconnects and reads on; others are served', async () => {
    const node = await startBroker({
      FELIX_DURABLE_STORAGE_DIR: durableDir(),
      FELIX_DURABLE_DEFAULT: '1',
      FELIX_STREAM_REPLAY_CAPACITY: '16',
      FELIX_DURABLE_SEGMENT_BYTES: '16384',
    });
    const publisher = await client(node);
    for (let i = 0; i < 300; i++) await publisher.publish('history', String(i));

    // The first replay of frames read from disk (the ring holds only the last 16) throws.
    inject(Subscription.prototype, 'replay', once());
    const reader = await client(node);
    const got: { payload: Uint8Array }[] = [];
    await reader.subscribe('history', { start: 'earliest', onEvent: (e) => got.push(e) });
    const other = await client(node);
    const otherGot: { payload: Uint8Array }[] = [];
    await other.subscribe('history', { start: 'earliest', onEvent: (e) => otherGot.push(e) });

    await eventually(() => otherGot.length === 300 && got.length === 300, 'both to read the whole log');
    expect(payloads(otherGot)).toEqual(numbers(300));
    expect(payloads(got)).toEqual(numbers(300));
    expect([reader.disconnects, other.disconnects, publisher.disconnects]).toEqual([1, 0, 0]);
    expect(await metric(node, 'felix_internal_errors_total')).toBe(1);
  });

  it('an ack released by a commit whose answer throws: that publisher reconnects; the stream and others go on', async () => {
    const node = await startBroker({
      FELIX_DURABLE_STORAGE_DIR: durableDir(),
      FELIX_DURABLE_DEFAULT: '1',
      FELIX_DURABLE_FSYNC: 'on_commit',
      FELIX_ACK_ON_COMMIT: '1',
    });
    const subscriber = await client(node);
    const seen: { payload: Uint8Array }[] = [];
    await subscriber.subscribe('committed', { onEvent: (e) => seen.push(e) });
    const broken = await client(node);
    const healthy = await client(node);
    await healthy.publish('committed', '0');

    // The next ack a commit releases throws as it is answered (on the storage's fsync callback).
    inject(Replies.prototype, 'publishOk', once());
    // Its publish is durable: the SDK sends it again on its new connection, and it is acked there (the
    // broker's producer dedup answers the retry without appending it twice).
    await broken.publish('committed', '1');
    await healthy.publish('committed', '2');

    await eventually(() => seen.length === 3, 'three events');
    expect(payloads(seen)).toEqual([0, 1, 2]);
    expect([broken.disconnects, healthy.disconnects, subscriber.disconnects]).toEqual([1, 0, 0]);
    expect(await metric(node, 'felix_internal_errors_total')).toBe(1);
  });

  it("cutting a stream's batch throws: its subscribers reconnect and resume; other streams are not touched", async () => {
    const node = await startBroker();
    const onCut = await client(node);
    const cutGot: { payload: Uint8Array }[] = [];
    await onCut.subscribe('cut', { onEvent: (e) => cutGot.push(e) });
    const elsewhere = await client(node);
    const otherGot: { payload: Uint8Array }[] = [];
    await elsewhere.subscribe('other', { onEvent: (e) => otherGot.push(e) });
    const publisher = await client(node);
    await publisher.publish('cut', '0');

    inject(
      Topic.prototype,
      'endOfTurn',
      once((t) => t.name === 'cut'),
    );
    for (let i = 0; i < 20; i++) await publisher.publish('other', String(i));
    for (let i = 1; i < 20; i++) await publisher.publish('cut', String(i));

    await eventually(() => otherGot.length === 20, "the other stream's 20 events");
    expect(payloads(otherGot)).toEqual(numbers(20));
    await eventually(() => onCut.disconnects === 1, "the cut stream's subscriber to be disconnected");
    expect([elsewhere.disconnects, publisher.disconnects]).toEqual([0, 0]);
    expect(await metric(node, 'felix_internal_errors_total')).toBe(1);
    // The failed cut lost nothing: its events were cut on the next turn, and the reconnected subscriber
    // resumed after the last offset it had.
    await eventually(() => cutGot.length === 20, 'the resumed subscriber to read on');
    expect(payloads(cutGot)).toEqual(numbers(20));
  });

  it('the auth deadline throwing for a silent connection: that connection goes (0x1), the broker serves on', async () => {
    const key = await cliKeygen();
    const node = await startBroker({ FELIX_AUTH_JWKS: key.jwksPath, FELIX_AUTH_TIMEOUT_MS: '200' });
    inject(ConnectionSession.prototype, 'authTimedOut', once());
    const silent = await connectRaw({ quicAddress: node.quicAddress });
    const closed = new Promise<number>((resolve) => (silent.onClose = (info) => resolve(info.code)));
    expect(await closed).toBe(0x1);
    expect(await metric(node, 'felix_internal_errors_total')).toBe(1);
    // The next silent connection meets the deadline as usual.
    const next = await connectRaw({ quicAddress: node.quicAddress });
    const nextClosed = new Promise<string>((resolve) => (next.onClose = (info) => resolve(info.reason)));
    expect(await nextClosed).toBe('auth timeout');
  });
});
