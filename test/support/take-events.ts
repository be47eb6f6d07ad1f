// Reads a subscription's events with its one iterator (a subscription is iterated by one reader at a
// time), taken the first time and kept for later calls, as an application's single loop would.
import type { FelixEvent, Subscription } from '../../client/index.js';

const iterators = new WeakMap<Subscription, AsyncIterator<FelixEvent>>();

/** The next `count` events of `sub` (fewer when it ends first). */
export async function take(sub: Subscription, count: number): Promise<FelixEvent[]> {
  let iterator = iterators.get(sub);
  if (iterator === undefined) {
    iterator = sub[Symbol.asyncIterator]();
    iterators.set(sub, iterator);
  }
  const out: FelixEvent[] = [];
  while (out.length < count) {
    const next = await iterator.next();
    if (next.done === true) break;
    out.push(next.value);
  }
  return out;
}
