import { describe, expect, it } from 'vitest';
import { OutboundQueue } from '../../client/outbound-queue.js';

/** A transport stand-in: records frame labels; answers false while `pushingBack`. */
class RecordingSink {
  readonly written: string[] = [];
  pushingBack = false;
  write(frame: Uint8Array): boolean {
    this.written.push(Buffer.from(frame).toString());
    return !this.pushingBack;
  }
}

/** Runs chunk turns only when the test says so, so interleaving is deterministic. */
class ManualTurns {
  private turns: (() => void)[] = [];
  readonly schedule = (turn: () => void): void => {
    this.turns.push(turn);
  };
  get pending(): number {
    return this.turns.length;
  }
  run(): void {
    const turns = this.turns;
    this.turns = [];
    for (const turn of turns) turn();
  }
}

const frame = (label: string) => Buffer.from(label);
const streamA = { stream: 'a' };
const streamB = { stream: 'b' };

function setup(maxQueuedBytes = 1 << 20) {
  const sink = new RecordingSink();
  const turns = new ManualTurns();
  const queue = new OutboundQueue({ maxQueuedBytes, scheduleTurn: turns.schedule });
  return { sink, turns, queue };
}

describe('OutboundQueue', () => {
  it('withdraws an unwritten request from wherever it waits, never one partly written', () => {
    const { sink, turns, queue } = setup(12);
    // Admitted (ready), behind a chunked publish of its stream, and waiting for room (over the bound).
    queue.sendChunked([frame('c1'), frame('c2')], streamA, false, 10);
    queue.send(frame('behind'), streamA, false, 11);
    queue.send(frame('ready'), streamB, false, 12);
    queue.send(frame('waiting'), streamB, false, 13);
    expect([...queue.unwrittenRequests()].sort()).toEqual([10, 11, 12, 13]);
    expect(queue.withdraw(11)).toBe(true);
    expect(queue.withdraw(13)).toBe(true);
    expect(queue.withdraw(13)).toBe(false);
    queue.attach(sink);
    turns.run();
    // The chunked publish has begun: its caller must hear its outcome is unknown, not that it was not sent.
    expect(queue.withdraw(10)).toBe(false);
    expect(queue.withdraw(12)).toBe(false);
    turns.run();
    expect(sink.written).toEqual(['ready', 'c1', 'c2']);
    expect(queue.idle).toBe(true);
  });

  it('is idle once its last unwritten request is withdrawn, and says so (a close waits for that)', () => {
    const { queue } = setup();
    let idled = 0;
    queue.onIdle = () => idled++;
    queue.send(frame('a'), streamA, false, 30);
    expect(queue.idle).toBe(false);
    expect(queue.withdraw(30)).toBe(true);
    expect([queue.idle, idled]).toEqual([true, 1]);
  });

  it('withdraws a chunked publish not begun, and what waited behind it still goes, in order', () => {
    const { sink, turns, queue } = setup();
    queue.sendChunked([frame('c1'), frame('c2')], streamA, false, 20);
    queue.send(frame('next'), streamA, false, 21);
    expect(queue.withdraw(20)).toBe(true);
    queue.attach(sink);
    turns.run();
    expect(sink.written).toEqual(['next']);
    expect(queue.queuedBytes).toBe(0);
  });

  it('holds frames until the stream is ready, then writes them in order', () => {
    const { sink, queue } = setup();
    queue.send(frame('1'), streamA);
    queue.send(frame('2'), streamB);
    expect(sink.written).toEqual([]);
    queue.attach(sink);
    expect(sink.written).toEqual(['1', '2']);
    expect(queue.idle).toBe(true);
  });

  it('writes straight through while the transport takes frames', () => {
    const { sink, queue } = setup();
    queue.attach(sink);
    expect(queue.send(frame('x'), streamA)).toBeUndefined();
    expect(sink.written).toEqual(['x']);
    expect(queue.queuedBytes).toBe(0);
  });

  it('stops at transport backpressure and resumes on drain, keeping order', () => {
    const { sink, queue } = setup();
    queue.attach(sink);
    sink.pushingBack = true;
    queue.send(frame('1'));
    queue.send(frame('2'));
    queue.send(frame('3'));
    // The first frame was taken (write returned false after accepting it); the rest wait here.
    expect(sink.written).toEqual(['1']);
    expect(queue.queuedBytes).toBe(2);
    sink.pushingBack = false;
    queue.drained();
    expect(sink.written).toEqual(['1', '2', '3']);
    expect(queue.idle).toBe(true);
  });

  it('makes senders wait beyond the byte bound and admits them in order as room frees', async () => {
    const { sink, queue } = setup(4);
    queue.attach(sink);
    sink.pushingBack = true;
    queue.send(frame('aa'));
    expect(queue.send(frame('bb'))).toBeUndefined();
    expect(queue.send(frame('cc'))).toBeUndefined();
    // 4 bytes queued: the bound is reached, so the next sender gets a promise.
    const admitted: string[] = [];
    const waitD = queue.send(frame('dd'));
    const waitE = queue.send(frame('ee'));
    expect(waitD).toBeInstanceOf(Promise);
    void waitD!.then(() => admitted.push('dd'));
    void waitE!.then(() => admitted.push('ee'));
    expect(queue.waitingFrames).toBe(2);
    expect(queue.queuedBytes).toBe(4);
    await Promise.resolve();
    expect(admitted).toEqual([]);
    sink.pushingBack = false;
    queue.drained();
    await Promise.resolve();
    expect(admitted).toEqual(['dd', 'ee']);
    expect(sink.written).toEqual(['aa', 'bb', 'cc', 'dd', 'ee']);
  });

  it('lets new frames queue behind waiting ones instead of overtaking them', () => {
    const { sink, queue } = setup(2);
    queue.attach(sink);
    sink.pushingBack = true;
    queue.send(frame('1'));
    queue.send(frame('22'));
    void queue.send(frame('33'));
    sink.pushingBack = false;
    // Even with room in the transport, a new frame must not pass the waiting one.
    void queue.send(frame('4'));
    expect(sink.written).toEqual(['1']);
    queue.drained();
    expect(sink.written).toEqual(['1', '22', '33', '4']);
  });

  it('sends a chunked publish one chunk per turn, letting other streams go between chunks', () => {
    const { sink, turns, queue } = setup();
    queue.attach(sink);
    queue.sendChunked([frame('A1'), frame('A2'), frame('A3')], streamA);
    queue.send(frame('b1'), streamB);
    expect(sink.written).toEqual(['b1']);
    turns.run();
    expect(sink.written).toEqual(['b1', 'A1']);
    queue.send(frame('b2'), streamB);
    queue.send(frame('b3'), streamB);
    turns.run();
    expect(sink.written).toEqual(['b1', 'A1', 'b2', 'b3', 'A2']);
    turns.run();
    expect(sink.written).toEqual(['b1', 'A1', 'b2', 'b3', 'A2', 'A3']);
    expect(turns.pending).toBe(0);
    expect(queue.idle).toBe(true);
  });

  it('sends chunkBytesPerTurn of chunks per turn (at least one), other frames going between turns', () => {
    const sink = new RecordingSink();
    const turns = new ManualTurns();
    // Chunks of 2 bytes, 5 bytes a turn: three chunks (the third crosses the budget), then the rest.
    const queue = new OutboundQueue({
      maxQueuedBytes: 1 << 20,
      scheduleTurn: turns.schedule,
      chunkBytesPerTurn: 5,
    });
    queue.attach(sink);
    queue.sendChunked(['A1', 'A2', 'A3', 'A4', 'A5'].map(frame), streamA);
    queue.sendChunked([frame('C1'), frame('C2')], { stream: 'c' });
    turns.run();
    expect(sink.written).toEqual(['A1', 'A2', 'A3']);
    queue.send(frame('b1'), streamB);
    turns.run();
    expect(sink.written).toEqual(['A1', 'A2', 'A3', 'b1', 'A4', 'A5', 'C1']);
    turns.run();
    expect(sink.written).toEqual(['A1', 'A2', 'A3', 'b1', 'A4', 'A5', 'C1', 'C2']);
    expect(queue.idle).toBe(true);
    // A chunk larger than the budget still goes, alone in its turn.
    queue.sendChunked([frame('large-1'), frame('large-2')], streamA);
    turns.run();
    expect(sink.written.slice(8)).toEqual(['large-1']);
  });

  it('keeps a stream in order: its later frames wait behind its chunked publish', () => {
    const { sink, turns, queue } = setup();
    queue.attach(sink);
    queue.sendChunked([frame('A1'), frame('A2')], streamA);
    queue.send(frame('a-after'), streamA);
    queue.send(frame('b'), streamB);
    expect(sink.written).toEqual(['b']);
    turns.run();
    turns.run();
    expect(sink.written).toEqual(['b', 'A1', 'A2', 'a-after']);
    queue.send(frame('a-later'), streamA);
    expect(sink.written.at(-1)).toBe('a-later');
  });

  it('runs chunked publishes one after another, each with its own followers', () => {
    const { sink, turns, queue } = setup();
    queue.attach(sink);
    queue.sendChunked([frame('A1'), frame('A2')], streamA);
    queue.send(frame('a-mid'), streamA);
    queue.sendChunked([frame('C1'), frame('C2')], streamA);
    queue.send(frame('a-end'), streamA);
    while (turns.pending > 0) turns.run();
    expect(sink.written).toEqual(['A1', 'A2', 'a-mid', 'C1', 'C2', 'a-end']);
  });

  it('pauses chunks while the transport pushes back', () => {
    const { sink, turns, queue } = setup();
    queue.attach(sink);
    queue.sendChunked([frame('A1'), frame('A2')], streamA);
    sink.pushingBack = true;
    turns.run();
    expect(sink.written).toEqual(['A1']);
    // No turn is scheduled while blocked: the drain schedules it.
    expect(turns.pending).toBe(0);
    sink.pushingBack = false;
    queue.drained();
    turns.run();
    expect(sink.written).toEqual(['A1', 'A2']);
  });

  it('rejects waiting senders when the stream fails, and every later sender', async () => {
    const { sink, queue } = setup(1);
    queue.attach(sink);
    sink.pushingBack = true;
    queue.send(frame('1'));
    queue.send(frame('2'));
    const waiting = queue.send(frame('3'))!;
    queue.fail(new Error('stream gone'));
    await expect(waiting).rejects.toThrow('stream gone');
    await expect(queue.send(frame('4'))!).rejects.toThrow('stream gone');
    expect(queue.send(frame('5'), undefined, false)).toBeUndefined();
  });
});
