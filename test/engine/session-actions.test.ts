/**
 * Hostile clients do more than send bad frames: they subscribe and stop reading, reset streams mid-frame,
 * stop the broker's event streams, end control streams with subscriptions open. This property drives one
 * connection through random sequences of such actions (fast-check), mixed with valid and hostile frames,
 * under small windows and queues so backpressure, drops and evictions happen, and checks after every
 * action that the engine contained everything, and at the end that every stream carried decodable frames,
 * that events never went backwards, and that a fresh stream of the connection is still served.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FLAG_MSGPACK,
  FrameDecoder,
  STREAM_CODE_CLIENT_GONE,
  STREAM_CODE_CLIENT_PROTOCOL_ERROR,
  STREAM_CODE_SLOW_SUBSCRIBER,
  encodeBinaryPublishBatch,
  encodeMessage,
  type DecodedFrame,
} from '../../wire/index.js';
import { CacheTarget, encodeCacheLookup, encodeCachePut } from '../../wire/cache-request-writer.js';
import {
  EngineConnection,
  createBroker,
  decodeAnswers,
  settle,
  type EngineBroker,
} from './engine-harness.js';
import {
  DEFAULT_OFFER,
  arbAuthOffer,
  arbHostileFrame,
  arbValidRequest,
  authFrame,
  describeBytes,
  splitIntoChunks,
  type AuthOffer,
  type HostileTarget,
} from './hostile-frames.js';
import type { MemoryStream } from './memory-stream.js';

const SCALE = Number(process.env.FUZZ_RUNS ?? '1') || 1;
const SEED = Number(process.env.FUZZ_SEED ?? NaN) || (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
const target: HostileTarget = { tenant: 't1', maxFrameBytes: 65536 };
const BIG_VALUE = 32 * 1024;

type Action =
  | { readonly op: 'open'; readonly offer: AuthOffer | null }
  | {
      readonly op: 'send';
      readonly stream: number;
      readonly bytes: Buffer;
      readonly chunks: readonly number[];
    }
  | { readonly op: 'burst'; readonly stream: number; readonly gets: number }
  | {
      readonly op: 'subscribe';
      readonly stream: number;
      readonly start: 'latest' | 'earliest';
      readonly stalled: boolean;
    }
  | {
      readonly op: 'flood';
      readonly stream: number;
      readonly events: number;
      readonly size: number;
      readonly batch: boolean;
    }
  | { readonly op: 'fin' | 'reset' | 'stop'; readonly stream: number; readonly code: number }
  | { readonly op: 'stopEvents'; readonly events: number; readonly code: number }
  | { readonly op: 'stall' | 'unstall'; readonly events: boolean; readonly index: number }
  | { readonly op: 'take'; readonly events: boolean; readonly index: number; readonly bytes: number }
  | { readonly op: 'settle' };

const streamIndex = fc.nat({ max: 7 });
const code = fc.constantFrom(0, STREAM_CODE_CLIENT_GONE, STREAM_CODE_CLIENT_PROTOCOL_ERROR, 0xffff);

const arbAction: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('open' as const),
      offer: fc.option(arbAuthOffer(), { nil: null, freq: 8 }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('send' as const),
      stream: streamIndex,
      bytes: fc.oneof(
        {
          weight: 3,
          arbitrary: arbValidRequest(target, [
            'subscribe',
            'publish',
            'publish_batch',
            'binary_batch',
            'binary_acked_batch',
          ]).map((v) => v.bytes),
        },
        { weight: 1, arbitrary: arbValidRequest(target).map((v) => v.bytes) },
        { weight: 1, arbitrary: arbHostileFrame(target).map((f) => f.bytes) },
      ),
      chunks: fc.oneof(
        fc.constant([Infinity]),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 4 }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('subscribe' as const),
      stream: streamIndex,
      start: fc.constantFrom('latest' as const, 'earliest' as const),
      stalled: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('flood' as const),
      stream: streamIndex,
      events: fc.integer({ min: 1, max: 300 }),
      size: fc.integer({ min: 0, max: 2048 }),
      batch: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('burst' as const),
      stream: streamIndex,
      gets: fc.integer({ min: 1, max: 200 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constantFrom('fin' as const, 'reset' as const, 'stop' as const),
      stream: streamIndex,
      code,
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('stopEvents' as const), events: streamIndex, code }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constantFrom('stall' as const, 'unstall' as const),
      events: fc.boolean(),
      index: streamIndex,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('take' as const),
      events: fc.boolean(),
      index: streamIndex,
      bytes: fc.integer({ min: 1, max: 1 << 20 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('settle' as const) }) },
);

interface Policy {
  readonly env: Record<string, string>;
  readonly name: string;
}

const POLICIES: Policy[] = [
  {
    name: 'drop_new, evicting after 3 drops',
    env: { FELIX_SUB_QUEUE_POLICY: 'drop_new', FELIX_SLOW_SUB_MAX_DROPS: '3' },
  },
  { name: 'drop_old', env: { FELIX_SUB_QUEUE_POLICY: 'drop_old' } },
  { name: 'block', env: { FELIX_SUB_QUEUE_POLICY: 'block' } },
];

function engineFor(policy: Policy): EngineBroker {
  return createBroker({
    FELIX_MAX_FRAME_BYTES: '65536',
    FELIX_CACHE_MAX_VALUE_BYTES: String(BIG_VALUE),
    FELIX_EVENT_BATCH_MAX_BYTES: '16384',
    FELIX_EVENT_SEND_WINDOW: '4096',
    FELIX_SUB_QUEUE_CAPACITY: '4',
    FELIX_FANOUT_BATCH: '1',
    FELIX_STREAM_REPLAY_CAPACITY: '64',
    ...policy.env,
  });
}

/** What the runs reached, printed so a run that never exercised backpressure shows it. */
const totals = { pauses: 0, stalledBytes: 0 };

/** The stream flood and subscribe actions use: every payload published there is one byte repeated. */
const FLOOD = 'flood';

async function runActions(
  engine: EngineBroker,
  actions: readonly Action[],
  maxBrokerStreams: number,
): Promise<void> {
  const broker = engine.broker;
  const internalBefore = broker.stats.internalErrors;
  const conn = new EngineConnection(broker);
  // The client's limit on streams the broker opens: subscribes past it must be refused, not crash.
  conn.peer.maxBrokerStreams = maxBrokerStreams;
  /** Event streams of subscriptions to FLOOD, whose payloads can be checked byte by byte. */
  const flooded = new Set<MemoryStream>();
  const streams: MemoryStream[] = [];
  const offers: (AuthOffer | null)[] = [];
  const done: string[] = [];
  const fail = (why: string): never => {
    throw new Error(
      `${why}\n  after: ${done.slice(-12).join(' ; ')}` +
        `\n  connection: closed ${conn.peer.closeCode} ${conn.peer.closeReason}; internal errors +${broker.stats.internalErrors - internalBefore}` +
        (conn.peer.escaped.length > 0
          ? `\n  escaped: ${String((conn.peer.escaped[0] as Error)?.stack ?? conn.peer.escaped[0])}`
          : '') +
        (engine.logs.length > 0 ? `\n  broker log: ${engine.logs.slice(-2).join('').slice(0, 2000)}` : ''),
    );
  };
  const contained = (): void => {
    if (conn.peer.escaped.length > 0) fail('an exception escaped into the transport');
    if (broker.stats.internalErrors !== internalBefore)
      fail('the per-connection guard caught an internal error');
    if (conn.peer.closed) fail('the connection was closed');
  };
  const pick = <T>(list: readonly T[], i: number): T | undefined =>
    list.length === 0 ? undefined : list[i % list.length];
  const cache = new CacheTarget('t1', 'ns', 'c');

  // One stream that stored a big value, so bursts of reads have something to amplify.
  const seed = conn.authedStream(DEFAULT_OFFER);
  seed.clientWrite(encodeCachePut(cache, 'big', Buffer.alloc(BIG_VALUE, 7), 1, null, false));
  streams.push(seed);
  offers.push(DEFAULT_OFFER);

  try {
    for (const a of actions) {
      const s = 'stream' in a ? pick(streams, a.stream) : undefined;
      switch (a.op) {
        case 'open': {
          const opened = conn.stream();
          if (a.offer !== null) opened.clientWrite(authFrame('t1', a.offer));
          streams.push(opened);
          offers.push(a.offer);
          done.push(`open ${opened.id} ${JSON.stringify(a.offer)}`);
          break;
        }
        case 'send':
          if (s === undefined || s.clientFinished) continue;
          for (const chunk of splitIntoChunks(a.bytes, a.chunks)) s.clientWrite(chunk);
          done.push(`send ${s.id} ${describeBytes(a.bytes, 48)}`);
          break;
        case 'burst': {
          if (s === undefined || s.clientFinished) continue;
          const get = encodeCacheLookup('cache_get', cache, 'big', 9, false);
          s.clientWrite(Buffer.concat(Array.from({ length: a.gets }, () => get)));
          done.push(`burst ${s.id} ${a.gets} gets`);
          break;
        }
        case 'subscribe': {
          if (s === undefined || s.clientFinished) continue;
          const before = conn.peer.brokerStreams.length;
          s.clientWrite(
            encodeMessage({
              type: 'subscribe',
              tenant_id: 't1',
              namespace: 'ns',
              stream: FLOOD,
              start: a.start,
            }),
          );
          for (const e of conn.peer.brokerStreams.slice(before)) flooded.add(e);
          // A subscriber that reads nothing from the start: its queue fills, drops, evictions follow.
          if (a.stalled) for (const e of conn.peer.brokerStreams.slice(before)) e.network = 'stalled';
          done.push(`subscribe ${s.id} ${a.start}${a.stalled ? ' stalled' : ''}`);
          break;
        }
        case 'flood': {
          if (s === undefined || s.clientFinished) continue;
          const payloads = Array.from({ length: a.events }, (_, i) => Buffer.alloc(a.size, i));
          const address = { tenant_id: 't1', namespace: 'ns', stream: FLOOD };
          if (a.batch) s.clientWrite(encodeBinaryPublishBatch({ ...address, payloads }));
          else
            s.clientWrite(
              Buffer.concat(
                payloads.map((payload) => encodeMessage({ type: 'publish', ...address, payload })),
              ),
            );
          done.push(`flood ${s.id} ${a.events}×${a.size}${a.batch ? ' batched' : ''}`);
          break;
        }
        case 'fin':
          if (s === undefined || s.clientFinished) continue;
          s.clientFinish();
          done.push(`fin ${s.id}`);
          break;
        case 'reset':
          if (s === undefined) continue;
          s.clientReset(a.code);
          done.push(`reset ${s.id} ${a.code}`);
          break;
        case 'stop':
          if (s === undefined) continue;
          s.clientStopSending(a.code);
          done.push(`stop ${s.id} ${a.code}`);
          break;
        case 'stopEvents': {
          const e = pick(conn.peer.brokerStreams, a.events);
          if (e === undefined) continue;
          e.clientStopSending(a.code);
          done.push(`stopEvents ${e.id} ${a.code}`);
          break;
        }
        case 'stall':
        case 'unstall':
        case 'take': {
          const t = pick(a.events ? conn.peer.brokerStreams : streams, a.index);
          if (t === undefined) continue;
          if (a.op === 'take') t.networkTake(a.bytes);
          else {
            t.network = a.op === 'stall' ? 'stalled' : 'open';
            if (a.op === 'unstall') t.networkTake();
          }
          done.push(`${a.op} ${t.id}${a.op === 'take' ? ` ${a.bytes}` : ''}`);
          break;
        }
        case 'settle':
          await settle();
          done.push('settle');
          break;
      }
      contained();
    }
    // Let everything through, then look at what every stream carried.
    for (const t of [...streams, ...conn.peer.brokerStreams]) {
      totals.pauses += t.pauses;
      totals.stalledBytes = Math.max(totals.stalledBytes, t.writableLength);
      t.network = 'open';
      t.networkTake();
    }
    await settle(4);
    contained();
    streams.forEach((s, i) => {
      checkFrames(`client stream ${s.id}`, s, fail);
      if (s.resetCode !== null) fail(`client stream ${s.id} was reset (${s.resetCode})`);
      const answers = decodeAnswers(s.received()).slice(1);
      // A stream opened without an auth negotiated with whatever auth the generated bytes carried (any
      // client_flags): its replies may be either encoding, but one only. Otherwise the offer decides.
      const firstReply = answers.find((a) => a.flags !== 0x10);
      const msgpack =
        offers[i] === null
          ? firstReply?.flags === FLAG_MSGPACK
          : ((offers[i]!.client_flags ?? 0x07) & FLAG_MSGPACK) !== 0;
      for (const a of answers) {
        if (a.flags !== 0x10 && a.flags !== (msgpack ? FLAG_MSGPACK : 0)) {
          fail(`client stream ${s.id}: answer ${a.frame?.type} with flags 0x${a.flags.toString(16)}`);
        }
      }
    });
    for (const e of conn.peer.brokerStreams) {
      checkFrames(`event stream ${e.id}`, e, fail);
      checkOffsets(e, fail);
      if (flooded.has(e)) checkFloodPayloads(e, fail);
      if (e.resetCode !== null && e.resetCode !== STREAM_CODE_SLOW_SUBSCRIBER)
        fail(`event stream ${e.id} reset with ${e.resetCode}`);
    }
    // A fresh stream of the connection is served.
    const fresh = conn.authedStream(DEFAULT_OFFER);
    fresh.clientWrite(
      encodeMessage({
        type: 'publish',
        tenant_id: 't1',
        namespace: 'ns',
        stream: 'probe',
        payload: Buffer.from('p'),
        request_id: 77,
        ack: 'per_message',
      }),
    );
    fresh.clientWrite(encodeCacheLookup('cache_get', cache, 'nothing', 78, false));
    await settle();
    const got = decodeAnswers(fresh.received()).map((a) => a.frame);
    if (got[1]?.type !== 'publish_ok' || got[2]?.type !== 'cache_value')
      fail(`a fresh stream was not served: ${JSON.stringify(got).slice(0, 300)}`);
    contained();
  } finally {
    conn.dispose();
  }
  if (conn.peer.escaped.length > 0) fail('an exception escaped while the connection was released');
}

/** The stream carried whole, decodable frames only. */
function checkFrames(what: string, s: MemoryStream, fail: (why: string) => never): void {
  let bad: string | null = null;
  const decoder = new FrameDecoder(
    { onFrame: () => {}, onError: (e) => (bad ??= e.message) },
    { maxFrameBytes: 0xffffffff },
  );
  decoder.push(s.received());
  if (bad !== null) fail(`${what} carried a broken frame: ${bad}`);
  // A reset may cut a frame short (RESET_STREAM discards the rest), and so may the client's own STOP_SENDING
  // (it reads nothing after it); nothing else may.
  if (decoder.bufferedBytes !== 0 && s.resetCode === null && s.clientStopCode === null)
    fail(`${what} ended with ${decoder.bufferedBytes} bytes of an unfinished frame`);
  const undecodable = decodeAnswers(s.received()).find((a) => a.frame === null);
  if (undecodable !== undefined) fail(`${what} carried an undecodable frame: ${undecodable.undecodable}`);
}

/**
 * Every payload on a FLOOD subscription is one byte repeated: a buffer the broker changed after handing it
 * to write() (which keeps it by reference while the network is stalled) would show here.
 */
function checkFloodPayloads(s: MemoryStream, fail: (why: string) => never): void {
  for (const f of decodeAnswers(s.received()).slice(1)) {
    const frame = f.frame!;
    const payloads =
      frame.type === 'binary_event_batch' || frame.type === 'event_batch'
        ? frame.payloads
        : frame.type === 'event'
          ? [frame.payload]
          : [];
    for (const p of payloads) {
      if (p.some((b) => b !== p[0]))
        fail(`event stream ${s.id} delivered a changed payload ${describeBytes(p, 64)}`);
    }
  }
}

/**
 * Events of one subscription never go backwards or repeat (drops may leave gaps); a drop notice
 * (events_dropped, DROP_NOTICE) names offsets past every event before it, and none after it is at or
 * below them.
 */
function checkOffsets(s: MemoryStream, fail: (why: string) => never): void {
  let next = -1;
  const frames = decodeAnswers(s.received()).map((a) => a.frame as DecodedFrame);
  for (const f of frames.slice(1)) {
    let first: number | undefined;
    let count = 0;
    if (f.type === 'binary_event_batch') [first, count] = [f.base_offset, f.payloads.length];
    else if (f.type === 'event_batch') [first, count] = [f.base_offset, f.payloads.length];
    else if (f.type === 'event') [first, count] = [f.offset, 1];
    else if (f.type === 'events_dropped') {
      if (f.through_offset < next || f.events < 1)
        fail(`event stream ${s.id} told of drops through ${f.through_offset} after offset ${next - 1}`);
      next = f.through_offset + 1;
      continue;
    } else fail(`event stream ${s.id} carried ${f.type}`);
    if (first === undefined) continue; // a form without offsets
    if (first < next) fail(`event stream ${s.id} went back from offset ${next} to ${first}`);
    next = first + count;
  }
}

describe('hostile stream actions on one connection (fast-check)', () => {
  for (const [i, policy] of POLICIES.entries()) {
    it(`random subscribe/publish/reset/stop/stall sequences, queue policy ${policy.name}`, async () => {
      const engine = engineFor(policy);
      console.log(`stream actions (${policy.name}): seed ${SEED + i} (replay with FUZZ_SEED=${SEED})`);
      await fc.assert(
        fc.asyncProperty(
          fc.array(arbAction, { minLength: 1, maxLength: 40 }),
          fc.oneof(fc.constant(Infinity), fc.integer({ min: 0, max: 4 })),
          (actions, maxBrokerStreams) => runActions(engine, actions, maxBrokerStreams),
        ),
        { numRuns: Math.max(1, Math.round(200 * SCALE)), seed: (SEED + i) >>> 0 },
      );
      const stats = engine.broker.stats;
      console.log(
        `stream actions (${policy.name}): ${stats.subscriptionsOpened} subscriptions, drops ${JSON.stringify(stats.drops)}, ` +
          `evictions ${stats.disconnects.slow_consumer ?? 0}, ${totals.pauses} pauses, ${totals.stalledBytes} bytes left waiting at most`,
      );
      expect(stats.internalErrors).toBe(0);
    }, 120_000);
  }
});
