// The page script's logic that needs no browser: latency bands, number formats, the charts' history.
import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatPercent, formatRate } from '../../broker/dashboard/page/format.js';
import { HISTORY_POINTS, History } from '../../broker/dashboard/page/history.js';
import { bandLabels, bandOf } from '../../broker/dashboard/page/latency-bands.js';

describe('latency bands', () => {
  const bands = [250, 1000, 5000];

  it.each([
    [1, 0],
    [249, 0],
    [250, 1],
    [999, 1],
    [1000, 2],
    [4999, 2],
    [5000, 3],
    [1e9, 3],
  ])('puts %d µs in band %d', (us, band) => {
    expect(bandOf(us, bands)).toBe(band);
  });

  it('labels each band for the legend', () => {
    expect(bandLabels(bands)).toEqual(['< 250 µs', '250 – 1,000 µs', '1,000 – 5,000 µs', '≥ 5,000 µs']);
  });
});

describe('number formats', () => {
  it('writes the same on every machine, whatever its locale', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatRate(2.345)).toBe('2.3');
    expect(formatRate(1234.5)).toBe('1,235');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(20_992)).toBe('20.5 KiB');
    expect(formatPercent(0.6421)).toBe('64.2 %');
    expect(formatPercent(null)).toBe('–');
  });
});

describe('History', () => {
  it('aligns series that start late with nulls, and gives nulls for ticks a series missed', () => {
    const h = new History();
    h.record(1000, { a: 1 });
    h.record(2000, { a: 2, b: 20 });
    h.record(3000, { b: 30 });
    expect(h.times).toEqual([1, 2, 3]);
    expect(h.column('a')).toEqual([1, 2, null]);
    expect(h.column('b')).toEqual([null, 20, 30]);
    expect(h.column('never')).toEqual([null, null, null]);
  });

  it(`keeps ${HISTORY_POINTS} points and forgets a series with none left`, () => {
    const h = new History();
    h.record(0, { gone: 1 });
    for (let i = 1; i <= HISTORY_POINTS; i++) h.record(i * 1000, { kept: i });
    expect(h.times).toHaveLength(HISTORY_POINTS);
    expect(h.times[0]).toBe(1);
    expect(h.column('kept')[HISTORY_POINTS - 1]).toBe(HISTORY_POINTS);
    expect(h.column('gone').every((v) => v === null)).toBe(true);
  });
});
