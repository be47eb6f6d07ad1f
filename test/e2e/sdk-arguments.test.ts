// What an application passes to publish and subscribe is checked at the call: a wrong value is rejected
// with invalid_argument naming the option, nothing of it reaches the broker, and the client carries on.
import { describe, expect, it } from 'vitest';
import { FelixError, type FelixEvent } from '../../client/index.js';
import { client, eventually, metric, startBroker } from './sdk-harness.js';

async function rejection(attempt: () => Promise<unknown>): Promise<FelixError> {
  try {
    const result = await attempt();
    throw new Error(`expected a rejection, got ${String(result)}`);
  } catch (error) {
    if (error instanceof FelixError) return error;
    throw error;
  }
}

// Values a JavaScript caller (no compiler to stop it) can pass; `as never` stands for that caller.
const wrong = (value: unknown): never => value as never;

describe('SDK arguments', () => {
  it('refuses wrong publish arguments with invalid_argument, and nothing is published', async () => {
    const broker = await startBroker();
    const c = await client(broker);
    const seen: FelixEvent[] = [];
    const sub = await c.subscribe('args', { onEvent: (e) => seen.push(e) });

    const cases: [string, () => Promise<unknown>, RegExp][] = [
      [
        'ack true',
        () => c.publish('args', 'x', { ack: wrong(true) }),
        /ack must be 'per_message', 'per_batch' or 'none', got boolean true/,
      ],
      ['ack unknown', () => c.publish('args', 'x', { ack: wrong('all') }), /ack must be .* got "all"/],
      ['batch ack', () => c.publishBatch('args', ['x'], { ack: wrong(1) }), /ack must be .* got number 1/],
      [
        'number payload',
        () => c.publish('args', wrong(42)),
        /a payload must be a Uint8Array or a string, got number 42/,
      ],
      ['null payload', () => c.publish('args', wrong(null)), /a payload must be .* got null/],
      [
        'object payload',
        () => c.publish('args', wrong({ a: 1 })),
        /a payload must be .* got an object \(Object\)/,
      ],
      ['batch not an array', () => c.publishBatch('args', wrong('x')), /payloads must be an array/],
      ['batch item', () => c.publishBatch('args', wrong(['ok', 7])), /a payload must be .* got number 7/],
      ['namespace', () => c.publish('args', 'x', { namespace: wrong(5) }), /non-empty strings/],
    ];
    for (const [what, attempt, message] of cases) {
      const error = await rejection(attempt);
      expect(error.code, what).toBe('invalid_argument');
      expect(error.message, what).toMatch(message);
    }

    // The client is unharmed, and the refused calls published nothing: the next event is the first.
    await c.publish('args', 'after');
    await eventually(() => seen.length === 1, 'the event published after the refusals');
    expect(Buffer.from(seen[0]!.payload).toString()).toBe('after');
    expect(seen[0]!.offset).toBe(0);
    await sub.unsubscribe();
  });

  it('refuses wrong subscribe options with invalid_argument before asking the broker', async () => {
    const broker = await startBroker();
    const c = await client(broker);
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      [
        'start word',
        () => c.subscribe('s', { start: wrong('oldest') }),
        /start must be 'latest', 'earliest' or \{ offset: n \}.*got "oldest"/,
      ],
      ['negative offset', () => c.subscribe('s', { start: { offset: -1 } }), /offset number -1/],
      ['fractional offset', () => c.subscribe('s', { start: { offset: 1.5 } }), /offset number 1.5/],
      ['offset as text', () => c.subscribe('s', { start: wrong({ offset: '3' }) }), /offset "3"/],
      [
        'queue policy',
        () => c.subscribe('s', { queuePolicy: wrong('drop') }),
        /queuePolicy must be one of 'block', 'drop_new', 'drop_old', got "drop"/,
      ],
      [
        'onEvent',
        () => c.subscribe('s', { onEvent: wrong('print') }),
        /onEvent must be a function, got "print"/,
      ],
      ['onGap', () => c.subscribe('s', { onGap: wrong(1) }), /onGap must be a function, got number 1/],
      ['namespace', () => c.subscribe('s', { namespace: wrong(3) }), /non-empty strings/],
    ];
    for (const [what, attempt, message] of cases) {
      const error = await rejection(attempt);
      // The SDK's own refusal (the broker's would be broker_error, "subscribe refused: …").
      expect(error.code, what).toBe('invalid_argument');
      expect(error.message, what).toMatch(message);
    }
    // The client is unharmed: a valid subscribe still works.
    const sub = await c.subscribe('s', { start: { offset: 0 }, queuePolicy: 'drop_old' });
    expect(await metric(broker, 'felix_subscriptions_opened_total')).toBe(1);
    await sub.unsubscribe();
  });
});
