// Each subscriber receives events only in the encodings its own auth offered (docs/protocol.md, "Event
// encodings"), over real QUIC: binary shared or per-subscription batches, MessagePack or JSON messages.
import { describe, expect, it } from 'vitest';
import { WireError, type DecodedFrame } from '../../wire/index.js';
import { RawStream, connectRaw, eventStreams, startBroker, until } from './raw-client.js';

interface Seen {
  offset: number;
  text: string;
}

/** The events a frame carries, whatever its encoding. */
function eventsOf(frame: DecodedFrame): Seen[] {
  switch (frame.type) {
    case 'binary_event_batch':
      return frame.payloads.map((p, i) => ({
        offset: (frame.base_offset ?? -1) + i,
        text: Buffer.from(p).toString(),
      }));
    case 'event':
      return [{ offset: frame.offset!, text: Buffer.from(frame.payload).toString() }];
    case 'event_batch':
      return frame.payloads.map((p, i) => ({
        offset: frame.base_offset! + i,
        text: Buffer.from(p).toString(),
      }));
    default:
      return [];
  }
}

const CASES: {
  name: string;
  offer: number | undefined;
  /** Flags every event frame must have. */
  eventFlags: number;
  /** Flags of the event stream's hello. */
  helloFlags: number;
  /** Binary batches without 0x20 carry no offsets. */
  offsets: boolean;
  subscriptionIdInBatch?: boolean;
}[] = [
  {
    name: 'no client_flags: Felix default 0x07',
    offer: undefined,
    eventFlags: 0x04,
    helloFlags: 0,
    offsets: false,
  },
  { name: 'client_flags 0: JSON only', offer: 0, eventFlags: 0, helloFlags: 0, offsets: true },
  {
    name: 'client_flags 0x19 (no event bits): JSON',
    offer: 0x19,
    eventFlags: 0,
    helloFlags: 0,
    offsets: true,
  },
  {
    name: 'client_flags 0x40: MessagePack messages',
    offer: 0x40,
    eventFlags: 0x40,
    helloFlags: 0x40,
    offsets: true,
  },
  {
    name: 'client_flags 0x27: shared with offsets',
    offer: 0x27,
    eventFlags: 0x24,
    helloFlags: 0,
    offsets: true,
  },
  {
    name: 'client_flags 0x22: per-subscription with offsets',
    offer: 0x22,
    eventFlags: 0x22,
    helloFlags: 0,
    offsets: true,
    subscriptionIdInBatch: true,
  },
  {
    name: 'client_flags 0x02: per-subscription without offsets',
    offer: 0x02,
    eventFlags: 0x02,
    helloFlags: 0,
    offsets: false,
    subscriptionIdInBatch: true,
  },
];

describe('event encodings follow each subscriber’s own negotiation', () => {
  it.each(CASES)('$name', async (c) => {
    const node = await startBroker({ FELIX_EVENT_BATCH_MAX_DELAY_US: '0' });
    const conn = await connectRaw(node);
    const byId = eventStreams(conn);
    const auth: Record<string, unknown> = { client_flags: c.offer };
    const control = await RawStream.open(conn, auth);
    control.send({ type: 'subscribe', tenant_id: 't1', namespace: 'ns', stream: 'neg', subscription_id: 9 });
    expect(await control.next()).toEqual({
      type: 'subscribed',
      subscription_id: 9,
      epoch: expect.any(Number),
      start_offset: expect.any(Number),
    });

    // The publisher negotiates everything: what it offers must not leak into the subscriber's encoding.
    const pub = await RawStream.open(conn);
    pub.send({
      type: 'publish',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'neg',
      payload: Buffer.from('one'),
      request_id: 1,
      ack: 'per_message',
    });
    expect(await pub.next()).toEqual({ type: 'publish_ok', request_id: 1 });
    pub.send({
      type: 'publish_batch',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'neg',
      payloads: [Buffer.from('two'), Buffer.from('three')],
      request_id: 2,
      ack: 'per_batch',
    });
    expect(await pub.next()).toEqual({ type: 'publish_ok', request_id: 2 });

    const events = (): Seen[] => {
      const s = byId.get(9);
      return s === undefined
        ? []
        : s.frames.slice(1).flatMap((f) => (f instanceof WireError ? [] : eventsOf(f)));
    };
    await until(() => events().length === 3, 'three events');
    const stream = byId.get(9)!;
    expect(stream.frames.some((f) => f instanceof WireError)).toBe(false);
    expect(stream.frames[0]).toEqual({ type: 'event_stream_hello', subscription_id: 9 });
    expect(stream.flags[0]).toBe(c.helloFlags);
    for (const flags of stream.flags.slice(1)) expect(flags).toBe(c.eventFlags);
    expect(events().map((e) => e.text)).toEqual(['one', 'two', 'three']);
    if (c.offsets) expect(events().map((e) => e.offset)).toEqual([0, 1, 2]);
    for (const f of stream.frames.slice(1)) {
      if (!(f instanceof WireError) && f.type === 'binary_event_batch') {
        expect(f.subscription_id).toBe(c.subscriptionIdInBatch === true ? 9 : undefined);
      }
    }
  });
});
