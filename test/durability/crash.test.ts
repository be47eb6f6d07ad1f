// Issue 13 acceptance: 10 × (sustained acked publishing with ack-on-commit, kill -9 at a random moment,
// restart) against real broker processes. After every restart: every acked message is in the log, in
// order, offsets 0..n-1 once each, the epoch unchanged; a subscriber resumes at its next offset with the
// epoch it holds and, over all restarts, has received exactly the log.
import { describe, expect, it } from 'vitest';
import {
  Publisher,
  RawClient,
  contiguousFromZero,
  killBroker,
  startDurableBroker,
  stopBroker,
  storageDir,
  type Event,
} from './durable-harness.js';

const ROUNDS = 10;
const STREAM = 'orders';

describe('durable stream: kill -9 during acked publishing', () => {
  it(`loses no acked message, serves no duplicate or damaged record, and resumes a subscriber (${ROUNDS} rounds)`, async () => {
    const dir = storageDir();
    const env = {
      FELIX_DURABLE_FSYNC: 'on_commit',
      FELIX_ACK_ON_COMMIT: '1',
      // A small ring and small segments: resuming subscribers read from disk, across segment files.
      FELIX_STREAM_REPLAY_CAPACITY: '64',
      FELIX_DURABLE_SEGMENT_BYTES: '65536',
    };
    const acked: string[] = [];
    const seen: Event[] = [];
    let epoch: number | undefined;
    let resumeAt = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const broker = await startDurableBroker(dir, env);
      const subscriber = await RawClient.connect(broker);
      const reply = await subscriber.subscribe(STREAM, 1, { offset: resumeAt }, epoch);
      expect(reply.type, `round ${round}: resume at ${resumeAt}: ${JSON.stringify(reply)}`).toBe(
        'subscribed',
      );
      if (epoch !== undefined) expect(reply.epoch).toBe(epoch);
      epoch = reply.epoch as number;
      const publisher = new Publisher(await RawClient.connect(broker), STREAM, `r${round}`, 8, 16);
      // Sustained publishing until a random moment, then SIGKILL mid-flight.
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 600));
      await killBroker(broker);
      publisher.stop();
      acked.push(...publisher.acked);
      seen.push(...subscriber.received(1));
      expect(
        publisher.acked.length,
        `round ${round}: some publishes were acked before the kill`,
      ).toBeGreaterThan(0);
      resumeAt = seen.length === 0 ? 0 : seen[seen.length - 1]!.offset + 1;

      // Restart and check the whole log against everything acked so far.
      const check = await startDurableBroker(dir, env);
      const reader = await RawClient.connect(check);
      const end = await reader.nextOffset(STREAM, 100);
      const { events, reply: earliest } = await reader.readLog(STREAM, 101, end);
      expect(earliest.epoch, `round ${round}: the epoch survives the restart`).toBe(epoch);
      expect(contiguousFromZero(events), `round ${round}: offsets 0..${end - 1} once each`).toBe(true);
      const inLog = new Map(events.map((e) => [e.payload, e.offset]));
      const missing = acked.filter((p) => !inLog.has(p));
      expect(missing, `round ${round}: acked messages missing after the restart`).toEqual([]);
      // Acked messages keep their publish order (one publisher per round, one stream).
      const offsets = acked.map((p) => inLog.get(p)!);
      expect(offsets.every((o, i) => i === 0 || o > offsets[i - 1]!)).toBe(true);
      // What the subscriber saw before the kill is exactly what the log holds at those offsets.
      for (const e of seen) expect(events[e.offset]?.payload).toBe(e.payload);
      await stopBroker(check);
    }
    expect(contiguousFromZero(seen), 'the subscriber, over all restarts, got every offset once').toBe(true);
    process.stdout.write(
      `crash test: ${ROUNDS} kills, ${acked.length} acked messages, all present; subscriber resumed ${ROUNDS - 1} times\n`,
    );
  }, 150_000);
});
