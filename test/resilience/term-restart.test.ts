// Issue 12 (a): the broker process is SIGTERMed and started again on the same port, three times, while
// the SDK publishes with acks and subscribes. Every acked message reaches the subscriber exactly once or
// lies inside a gap the SDK reported; nothing arrives twice; each connection's status events follow the
// documented order (draining, disconnect, reconnecting…, reconnect).
import { describe, expect, it } from 'vitest';
import type { FelixError } from '../../client/index.js';
import {
  client,
  eventually,
  followsDocumentedOrder,
  QUICK_RECONNECT,
  RestartableBroker,
  Timeline,
} from './harness.js';

const RESTARTS = 3;
// Publishes in flight at once: enough to have some in flight at every drain.
const CONCURRENCY = 8;
// Acked publishes between restarts, so each restart hits a running load.
const PROGRESS_PER_ROUND = 300;

describe('SIGTERM and a restart on the same port, three times, under acked load', () => {
  it('delivers every acked message exactly once or inside a reported gap, and never twice', async () => {
    // History enough that a resubscribe from the start of a new epoch finds everything published to it.
    const broker = await RestartableBroker.start({ FELIX_STREAM_REPLAY_CAPACITY: '1000000' });
    const timeline = new Timeline();
    const c = await client(broker.address, { ...QUICK_RECONNECT, pubStreamsPerConn: 1 });
    timeline.follow(c);
    const sub = await c.subscribe('load', {
      start: 'earliest',
      onEvent: timeline.onEvent,
      onGap: timeline.onGap,
    });

    const acked: number[] = [];
    const refused: FelixError[] = [];
    let next = 0;
    let running = true;
    const publisher = async (): Promise<void> => {
      while (running) {
        const id = next++;
        try {
          await c.publish('load', String(id));
          acked.push(id);
        } catch (error) {
          refused.push(error as FelixError);
        }
      }
    };
    const publishers = Array.from({ length: CONCURRENCY }, publisher);

    const epochs = [sub.epoch];
    for (let round = 0; round < RESTARTS; round++) {
      const target = acked.length + PROGRESS_PER_ROUND;
      await eventually(() => acked.length >= target, `acked publishes before restart ${round + 1}`);
      await broker.kill('SIGTERM');
      await broker.startAgain();
      const reconnects = round + 1;
      await eventually(
        () =>
          timeline.statuses('publish', 0).filter((e) => e.type === 'reconnect').length >= reconnects &&
          timeline.statuses('event', 0).filter((e) => e.type === 'reconnect').length >= reconnects,
        `both connections back after restart ${round + 1}`,
      );
      await eventually(() => sub.epoch !== epochs.at(-1), `the subscription in the new epoch ${round + 1}`);
      epochs.push(sub.epoch);
    }
    const final = acked.length + PROGRESS_PER_ROUND;
    await eventually(() => acked.length >= final, 'acked publishes after the last restart');
    running = false;
    await Promise.all(publishers);

    expect(refused.map((e) => e.message)).toEqual([]);
    // Every acked id delivered, or lying between the two events a reported gap fell between.
    const gaps = timeline.gaps();
    const unaccounted = (): number[] => {
      const delivered = timeline.delivered.map(Number);
      const seen = new Set(delivered);
      const covered = (id: number): boolean =>
        gaps.some(({ before }) => {
          const previous = before === 0 ? -1 : delivered[before - 1]!;
          const following = before < delivered.length ? delivered[before]! : Infinity;
          return id > Math.min(previous, following) && id < Math.max(previous, following);
        });
      return acked.filter((id) => !seen.has(id) && !covered(id));
    };
    await eventually(() => unaccounted().length === 0, 'every acked message delivered or covered by a gap');
    expect(unaccounted()).toEqual([]);
    // Nothing twice.
    const delivered = timeline.delivered.map(Number);
    expect(delivered.length - new Set(delivered).size).toBe(0);
    // One gap per restart: the stream's history was lost with the process (a new epoch each time).
    expect(gaps.map(({ gap }) => gap.epochChanged)).toEqual([true, true, true]);
    expect(new Set(epochs).size).toBe(RESTARTS + 1);

    for (const pool of ['publish', 'event']) {
      const events = timeline.statuses(pool, 0);
      expect(followsDocumentedOrder(events), `${pool}: ${events.map((e) => e.type).join(' ')}`).toBe(true);
      expect(events.filter((e) => e.type === 'reconnect')).toHaveLength(RESTARTS);
      // Lame duck: every restart was announced before the connection went.
      expect(events.filter((e) => e.type === 'draining')).toHaveLength(RESTARTS);
    }
  }, 90_000);
});
