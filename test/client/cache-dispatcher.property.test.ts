// The cache dispatcher under random interleavings of requests and answers (fast-check): whatever the
// lanes, slots and keys, one key's requests are sent in the order they were issued and never on two
// streams at once, no stream carries more than its slots, a request that could be sent is not left
// waiting, and once everything is answered nothing is left behind.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CacheDispatcher, type CacheLanes } from '../../client/cache-dispatcher.js';
import { CacheGetReply, CachePutReply } from '../../client/cache-reply.js';
import type { RequestStream } from '../../client/request-stream.js';
import { CacheTarget } from '../../wire/cache-request-writer.js';

type AnyReply = CachePutReply | CacheGetReply;

interface Sent {
  readonly reply: AnyReply;
  readonly lane: number;
  readonly key: string;
  readonly issued: number;
}

/** Lanes that record what is sent on them; the test answers by settling the reply. */
class RecordingLanes implements CacheLanes {
  readonly sent: Sent[] = [];
  readonly inFlight = new Set<Sent>();
  private readonly streams: RequestStream[];

  constructor(
    readonly size: number,
    issuedOf: (reply: AnyReply) => number,
  ) {
    this.streams = Array.from(
      { length: size },
      (_, lane) =>
        ({
          request: (_frame: Buffer, _id: number, reply: AnyReply) => {
            const entry = { reply, lane, key: reply.key, issued: issuedOf(reply) };
            this.sent.push(entry);
            this.inFlight.add(entry);
          },
        }) as unknown as RequestStream,
    );
  }

  worker(index: number): RequestStream {
    return this.streams[index]!;
  }
}

type Step =
  | { readonly kind: 'issue'; readonly key: number; readonly put: boolean }
  | { readonly kind: 'answer'; readonly pick: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('issue' as const), key: fc.nat(4), put: fc.boolean() }),
  fc.record({ kind: fc.constant('answer' as const), pick: fc.nat(1000) }),
);

describe('cache dispatcher (property)', () => {
  it('keeps each key in issue order on one stream, within the slots, never idle with work waiting', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(step, { maxLength: 120 }),
        (connections, streamsPerConnection, maxInFlight, steps) => {
          const target = new CacheTarget('t1', 'default', 'primary');
          const issued = new Map<AnyReply, number>();
          const lanes = new RecordingLanes(connections * streamsPerConnection, (r) => issued.get(r)!);
          const dispatcher = new CacheDispatcher(lanes, {
            connections,
            maxInFlightPerLane: maxInFlight,
            waitTimeoutMs: 60_000,
          });
          const waiting: AnyReply[] = [];
          let next = 0;
          const answer = (entry: Sent): void => {
            lanes.inFlight.delete(entry);
            entry.reply.partDone(
              entry.reply.op === 'cache_put' ? { type: 'cache_ok' } : { type: 'cache_value', value: null },
            );
          };
          const check = (): void => {
            const perLane = new Array<number>(lanes.size).fill(0);
            const laneOfKey = new Map<string, number>();
            for (const e of lanes.inFlight) {
              perLane[e.lane]!++;
              const lane = laneOfKey.get(e.key);
              // A key's requests in flight are all on one stream.
              expect(lane === undefined || lane === e.lane).toBe(true);
              laneOfKey.set(e.key, e.lane);
            }
            for (const n of perLane) expect(n).toBeLessThanOrEqual(maxInFlight);
            // Nothing that could go now waits: the first waiting request of each key has no room.
            const unsent = waiting.filter((r) => !lanes.sent.some((s) => s.reply === r));
            const seenKeys = new Set<string>();
            for (const r of unsent) {
              if (seenKeys.has(r.key)) continue;
              seenKeys.add(r.key);
              const lane = laneOfKey.get(r.key);
              if (lane !== undefined) expect(perLane[lane]).toBe(maxInFlight);
              else expect(perLane.every((n) => n === maxInFlight)).toBe(true);
            }
            expect(dispatcher.waitingCount).toBe(unsent.length);
          };
          for (const s of steps) {
            if (s.kind === 'issue') {
              const key = `k${s.key}`;
              const reply: AnyReply = s.put
                ? new CachePutReply(target, key, dispatcher)
                : new CacheGetReply(target, key, dispatcher);
              issued.set(reply, next++);
              waiting.push(reply);
              void reply.promise.catch(() => undefined);
              dispatcher.submit(reply, Buffer.alloc(1), dispatcher.nextRequestId());
            } else if (lanes.inFlight.size > 0) {
              const all = [...lanes.inFlight];
              answer(all[s.pick % all.length]!);
            }
            check();
          }
          // Answer everything, oldest first, until nothing is left.
          for (let guard = 0; lanes.inFlight.size > 0 && guard < 10_000; guard++) {
            answer([...lanes.inFlight][0]!);
            check();
          }
          expect(lanes.sent.length).toBe(next);
          expect(dispatcher.inFlight).toBe(0);
          expect(dispatcher.waitingCount).toBe(0);
          expect(dispatcher.orderedKeys).toBe(0);
          // Per key, sent in the order issued.
          const byKey = new Map<string, number[]>();
          for (const s of lanes.sent) byKey.set(s.key, [...(byKey.get(s.key) ?? []), s.issued]);
          for (const order of byKey.values()) expect(order).toEqual([...order].sort((a, b) => a - b));
        },
      ),
      { numRuns: 400 },
    );
  });
});
