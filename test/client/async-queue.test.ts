import { describe, expect, it } from 'vitest';
import { AsyncQueue } from '../../client/async-queue.js';

async function drain<T>(queue: AsyncQueue<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i++) {
    const result = await queue.next();
    if (result.done === true) break;
    out.push(result.value);
  }
  return out;
}

describe('AsyncQueue policies', () => {
  it('drop_new keeps the oldest events and counts what it discards', async () => {
    const queue = new AsyncQueue<number>({ capacity: 3, policy: 'drop_new' });
    const dropped = [1, 2, 3, 4, 5].map((n) => queue.push(n));
    expect(dropped).toEqual([0, 0, 0, 1, 1]);
    expect(queue.dropped).toBe(2);
    expect(await drain(queue, 3)).toEqual([1, 2, 3]);
  });

  it('drop_old keeps the newest events', async () => {
    const queue = new AsyncQueue<number>({ capacity: 3, policy: 'drop_old' });
    for (let n = 1; n <= 10; n++) queue.push(n);
    expect(queue.dropped).toBe(7);
    expect(queue.length).toBe(3);
    expect(await drain(queue, 3)).toEqual([8, 9, 10]);
  });

  it('block keeps everything, signals full at capacity and room again at half capacity', async () => {
    const signals: string[] = [];
    const queue = new AsyncQueue<number>({
      capacity: 4,
      policy: 'block',
      onFull: () => signals.push('full'),
      onRoom: () => signals.push('room'),
    });
    for (let n = 1; n <= 6; n++) queue.push(n);
    expect(signals).toEqual(['full']);
    expect(queue.dropped).toBe(0);
    expect(queue.length).toBe(6);
    await drain(queue, 3);
    expect(signals).toEqual(['full']);
    await drain(queue, 1);
    expect(signals).toEqual(['full', 'room']);
    expect(queue.isFull).toBe(false);
    expect(await drain(queue, 2)).toEqual([5, 6]);
  });

  it('hands an event straight to a waiting consumer', async () => {
    const queue = new AsyncQueue<string>({ capacity: 1, policy: 'drop_new' });
    const next = queue.next();
    queue.push('direct');
    queue.push('queued');
    expect(await next).toEqual({ value: 'direct', done: false });
    expect(queue.dropped).toBe(0);
  });

  it('ends after what is queued, with the error when there is one', async () => {
    const queue = new AsyncQueue<number>();
    queue.push(1);
    queue.end(new Error('evicted'));
    queue.push(2);
    expect(await queue.next()).toEqual({ value: 1, done: false });
    await expect(queue.next()).rejects.toThrow('evicted');
    expect(await queue.next()).toEqual({ value: undefined, done: true });
  });

  it('wakes a waiting consumer when it ends', async () => {
    const queue = new AsyncQueue<number>();
    const next = queue.next();
    queue.end();
    expect(await next).toEqual({ value: undefined, done: true });
  });
});
