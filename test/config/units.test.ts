import { describe, expect, it } from 'vitest';
import { suggestNames } from '../../config/suggest.js';
import { GiB, KiB, MiB, formatBytes, formatBytesCompact, parseByteSize } from '../../config/units.js';

describe('byte sizes', () => {
  it.each([
    ['0', 0],
    ['1350', 1350],
    ['1B', 1],
    ['16KiB', 16 * KiB],
    ['16 kib', 16 * KiB],
    ['512MiB', 512 * MiB],
    ['4GiB', 4 * GiB],
    ['1TiB', 1024 * GiB],
  ])('parses %j', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });

  it.each(['', 'KiB', '1.5KiB', '-1', '+1', '1 KB', '1k', '1  KiB', '0x10', '99999999999TiB'])(
    'refuses %j',
    (text) => {
      expect(parseByteSize(text)).toBeUndefined();
    },
  );

  it.each([
    [1350, '1350 B'],
    [16 * KiB, '16 KiB'],
    [1536, '1536 B'],
    [256 * MiB, '256 MiB'],
    [2 ** 32 - 1, '4 GiB − 1 B'],
    [2 ** 32 - 1025, '4 GiB − 1025 B'],
  ])('formats %d as %j', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('formats compactly so that the text reads back', () => {
    for (const bytes of [64 * KiB, 256 * MiB, GiB])
      expect(parseByteSize(formatBytesCompact(bytes))).toBe(bytes);
  });
});

describe('name suggestions', () => {
  const known = [
    'event_conn_pool',
    'event_conn_recv_window',
    'cache_conn_pool',
    'broker_metrics_bind',
    'quic_bind',
  ];

  it('prefer a missing or extra word over spelling', () => {
    expect(suggestNames('metrics_bind', known)).toEqual(['broker_metrics_bind']);
    expect(suggestNames('quic_bind_addr', known)).toEqual(['quic_bind']);
  });

  it('fall back to the closest spelling within a third of the length', () => {
    expect(suggestNames('evnt_con_pool', known)).toEqual(['event_conn_pool']);
  });

  it('return nothing when nothing is close', () => {
    expect(suggestNames('colour', known)).toEqual([]);
  });
});
