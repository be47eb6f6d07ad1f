import { describe, expect, it } from 'vitest';
import { OffsetTracker } from '../../client/offset-tracker.js';

const feed = (tracker: OffsetTracker, offsets: number[]) => offsets.map((offset) => tracker.accept(offset));

describe('OffsetTracker', () => {
  it('sees no gap in consecutive offsets, starting wherever a latest subscription starts', () => {
    const tracker = new OffsetTracker('latest');
    expect(tracker.nextOffset).toBe(-1);
    expect(feed(tracker, [40, 41, 42, 43])).toEqual([0, 0, 0, 0]);
    expect([tracker.gaps, tracker.missed, tracker.skipped]).toEqual([0, 0, 0]);
    expect(tracker.nextOffset).toBe(44);
  });

  it('reports each gap with the number of events missed right before the event', () => {
    const tracker = new OffsetTracker('earliest');
    expect(feed(tracker, [0, 1, 5, 6, 7, 10])).toEqual([0, 0, 3, 0, 0, 2]);
    expect(tracker.gaps).toBe(2);
    expect(tracker.missed).toBe(5);
  });

  it('skips a replayed prefix below the requested start', () => {
    const tracker = new OffsetTracker({ offset: 100 });
    expect(feed(tracker, [97, 98, 99, 100, 101])).toEqual([-1, -1, -1, 0, 0]);
    expect(tracker.skipped).toBe(3);
    expect(tracker.gaps).toBe(0);
  });

  it('counts a late first event after an offset start as a gap', () => {
    const tracker = new OffsetTracker({ offset: 10 });
    expect(tracker.accept(13)).toBe(3);
    expect(tracker.missed).toBe(3);
  });

  it('skips duplicates instead of moving the cursor back', () => {
    const tracker = new OffsetTracker('latest');
    expect(feed(tracker, [5, 6, 6, 5, 7])).toEqual([0, 0, -1, -1, 0]);
    expect(tracker.nextOffset).toBe(8);
  });
});
