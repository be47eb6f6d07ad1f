// The bound on streams with open write files: lowered once per shortage of descriptors (not once per
// failure it causes), and risen back towards the configured bound once descriptors are free again.
import { describe, expect, it } from 'vitest';
import {
  OpenFileBudget,
  QUIET_BEFORE_RISE_MS,
  RISE_EVERY_MS,
  SHED_HOLD_MS,
  type FileHolder,
} from '../../broker/storage/open-file-budget.js';

/** A stream that closes its files whenever asked, unless writing. */
class Holder implements FileHolder {
  granted = 0;
  busy = false;
  releaseFiles(): 'closed' | 'busy' {
    return this.busy ? 'busy' : 'closed';
  }
  filesGranted(): void {
    this.granted++;
  }
}

function budgetWithOpen(bound: number, open: number): { budget: OpenFileBudget; holders: Holder[] } {
  const budget = new OpenFileBudget(bound);
  const holders = Array.from({ length: open }, () => new Holder());
  for (const h of holders) expect(budget.acquire(h)).toBe(true);
  return { budget, holders };
}

describe('OpenFileBudget', () => {
  it('one shortage lowers the bound once, however many failures it causes', () => {
    const { budget } = budgetWithOpen(60, 40);
    const t = 1_000_000;
    // The writes begun before the idle streams closed their files all fail with EMFILE, within moments.
    expect(budget.shed(t)).toBe(true);
    for (let i = 1; i < 10; i++) expect(budget.shed(t + i)).toBe(false);
    expect(budget.limit).toBe(30);
    expect(budget.size).toBe(30);
    // A shortage after the hold is a new one: lowered again.
    expect(budget.shed(t + SHED_HOLD_MS)).toBe(true);
    expect(budget.limit).toBe(22);
  });

  it('rises back a step a second once no shortage was met for a while, up to the configured bound', () => {
    const { budget, holders } = budgetWithOpen(32, 32);
    const waiting = Array.from({ length: 20 }, () => new Holder());
    const t = 1_000_000;
    expect(budget.shed(t)).toBe(true);
    expect(budget.limit).toBe(24);
    // The streams left open are all writing: the others wait for places.
    for (const h of holders) h.busy = true;
    for (const h of waiting) expect(budget.acquire(h)).toBe(false);
    expect(budget.waiters).toBe(20);

    // Not while shortages go on: each one puts the rise back, the ones within the shed's hold too.
    expect(budget.rise(t + QUIET_BEFORE_RISE_MS - 1)).toBe(false);
    const late = t + SHED_HOLD_MS - 1;
    expect(budget.shed(late)).toBe(false);
    expect(budget.rise(t + QUIET_BEFORE_RISE_MS)).toBe(false);
    let now = late + QUIET_BEFORE_RISE_MS;
    expect(budget.rise(now)).toBe(true);
    expect(budget.limit).toBe(27);
    // Places given at once to the streams waiting for them.
    expect(budget.size).toBe(27);
    expect(waiting.filter((h) => h.granted === 1)).toHaveLength(3);
    expect(budget.rise(now + RISE_EVERY_MS - 1)).toBe(false);
    const seen = [budget.limit];
    for (let i = 0; i < 10; i++) {
      now += RISE_EVERY_MS;
      budget.rise(now);
      seen.push(budget.limit);
    }
    expect(seen).toEqual([27, 30, 32, 32, 32, 32, 32, 32, 32, 32, 32]);
    expect(budget.atConfigured).toBe(true);
  });
});
