import type { CheckContext } from '../context.js';
import { collectEvents, flatten, type DeliveredEvent } from '../events.js';
import { expectThat } from '../failure.js';

/**
 * The first `count` events of `stream`, read back by a fresh subscriber from `earliest`: how a check
 * confirms what a publish put into the stream (and that it is in the log before anything depends on it).
 */
export async function readBack(ctx: CheckContext, stream: string, count: number): Promise<DeliveredEvent[]> {
  const reader = await ctx.authed();
  const sub = await reader.subscribe(stream, { start: 'earliest' });
  const events = flatten(
    await collectEvents(sub.events, count, `${count} events of ${stream} from earliest`),
  );
  return events.slice(0, count);
}

/** Checks events carry exactly these payloads at consecutive offsets from `firstOffset`. */
export function expectEvents(
  events: readonly DeliveredEvent[],
  payloads: readonly string[],
  firstOffset: number,
  what: string,
): void {
  const got = events.map((e) => `${e.offset}:${e.payload.toString('utf8')}`);
  const want = payloads.map((p, i) => `${firstOffset + i}:${p}`);
  expectThat(
    got.length === want.length && got.every((g, i) => g === want[i]),
    `${what}: expected [${want.join(', ')}], got [${got.join(', ')}]`,
  );
}
