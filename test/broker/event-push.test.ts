// The frames a stream delivers in a turn are pushed onto the wire once that turn has ended
// (Topic.pushSubscribers, called by the broker after every stream's endOfTurn), after they were written,
// once per turn; a frame-per-event stream (no delay) leaves them to the transport's flush.
import { describe, expect, it } from 'vitest';
import type { EventFrame } from '../../broker/core/event-frame.js';
import type { EventOutput } from '../../broker/core/ports.js';
import { BudgetAccount, ConnectionBudget, PublishBudget } from '../../broker/core/publish-budget.js';
import { TenantShares } from '../../broker/core/tenant-shares.js';
import { BrokerStats } from '../../broker/core/stats.js';
import { Subscription } from '../../broker/core/subscription.js';
import { Topic } from '../../broker/core/topic.js';

/** Records writes and pushes in the order they happen. */
class LoggingOutput implements EventOutput {
  backlogBytes = 0;
  onDrain: (() => void) | null = null;
  readonly log: string[] = [];
  write(frame: EventFrame): void {
    this.log.push(`write ${frame.firstOffset}+${frame.count}`);
  }
  push(): void {
    this.log.push('push');
  }
  finish(): void {}
  abort(): void {}
}

function setUp(maxDelayMs: number, maxEvents = 64) {
  const scheduled: Topic[] = [];
  const topic = new Topic(
    't1',
    'ns',
    's',
    1000,
    { maxEvents, maxBytes: 1 << 20, maxDelayMs },
    new BrokerStats(),
    (t) => scheduled.push(t),
    new PublishBudget(1 << 30, 1 << 30, 1 << 30, new TenantShares()),
    null,
  );
  const output = new LoggingOutput();
  const limits = {
    queueCapacity: 1024,
    policy: 'drop_new',
    maxDrops: 0,
    maxFullMs: 0,
    writeAheadBytes: 1 << 30,
  } as const;
  topic.addSubscriber(new Subscription(1, topic, output, limits, new BrokerStats(), () => undefined));
  return { topic, output, scheduled };
}

const account = new BudgetAccount(new ConnectionBudget(), new TenantShares().acquire('t1'));

describe('pushing a turn’s frames', () => {
  it('pushes once, after the frames the turn cut, and not again until more are delivered', () => {
    const { topic, output, scheduled } = setUp(1000, 2);
    // Three events in one turn: a full frame of two cut at once, the third at the end of the turn.
    for (const e of ['a', 'b', 'c']) topic.publish(Buffer.from(e), account);
    expect(scheduled.length).toBeGreaterThan(0);
    expect(topic.endOfTurn(0, false)).toBe(-1);
    topic.pushSubscribers();
    topic.pushSubscribers();
    expect(output.log).toEqual(['write 0+2', 'write 2+1', 'push']);
  });

  it('leaves a frame-per-event stream (no delay) to the transport: nothing is scheduled or pushed', () => {
    const { topic, output, scheduled } = setUp(0, 1);
    topic.publish(Buffer.from('a'), account);
    topic.endOfTurn(0, false);
    expect(scheduled).toEqual([]);
    expect(output.log).toEqual(['write 0+1']);
  });
});
