// How `felix-ts sub` prints events and gaps, and how `felix-ts status` reads Prometheus text: the pure
// parts, with the inputs the broker and the SDK produce.
import { describe, expect, it } from 'vitest';
import { formatEvent, formatGap, formatPayload } from '../../cli/commands/sub-output.js';
import {
  parsePrometheusText,
  PrometheusTextError,
  total,
} from '../../cli/commands/status/prometheus-text.js';
import { renderStatus } from '../../cli/commands/status/summary.js';

const text = (value: string) => new TextEncoder().encode(value);
const event = (offset: number, payload: string, gap = 0, epochChanged = false) => ({
  tenant: 't1',
  namespace: 'default',
  stream: 's',
  offset,
  payload: text(payload),
  gap,
  epochChanged,
});

describe('felix-ts sub output', () => {
  it('prints an event as its offset, a tab and its payload', () => {
    expect(formatEvent(event(7, 'hello world'))).toBe('7\thello world\n');
  });

  it('prints a # line naming the missed offsets before an event that follows a gap', () => {
    expect(formatEvent(event(20, 'after', 3))).toBe('# gap: 3 events missed (offsets 17-19)\n20\tafter\n');
    expect(formatGap(event(5, 'x', 1))).toBe('# gap: 1 event missed (offset 4)');
  });

  it('says when the broker lost the history and offsets count anew', () => {
    expect(formatGap(event(0, 'x', Number.POSITIVE_INFINITY, true))).toBe(
      "# gap: an unknown number of events missed: the broker lost the stream's history (a restart); " +
        'offsets count anew from 0',
    );
  });

  it('keeps one event per line: payloads that are not one line of UTF-8 go out as base64', () => {
    expect(formatPayload(text('tab\tis fine'))).toBe('tab\tis fine');
    expect(formatPayload(text('two\nlines'))).toBe(`base64:${Buffer.from('two\nlines').toString('base64')}`);
    expect(formatPayload(Uint8Array.of(0xff, 0xfe))).toBe('base64://4=');
    expect(formatPayload(text('base64:looks encoded'))).toBe(
      `base64:${Buffer.from('base64:looks encoded').toString('base64')}`,
    );
    expect(formatPayload(text('ünïcødé ✓'))).toBe('ünïcødé ✓');
    // C1 controls too: U+009B is a terminal's CSI, as ESC [ is.
    expect(formatPayload(text('csi\u009b2J'))).toBe(
      `base64:${Buffer.from('csi\u009b2J').toString('base64')}`,
    );
    expect(formatPayload(text('para\u2029graph'))).toMatch(/^base64:/);
  });
});

describe('Prometheus text', () => {
  const sample = [
    '# HELP felix_connections Open QUIC connections',
    '# TYPE felix_connections gauge',
    'felix_connections 3',
    'felix_subscriber_dropped_events_total{policy="drop_new"} 5',
    'felix_subscriber_dropped_events_total{policy="drop_old"} 2',
    'felix_weird{a="x\\"y",b="new\\nline",c="back\\\\slash"} 1.5e3',
    'felix_inf +Inf',
    'felix_with_timestamp 4 1700000000000',
    '',
  ].join('\n');

  it('reads samples with labels, escapes, exponents, infinities and timestamps', () => {
    const scrape = parsePrometheusText(sample);
    expect(scrape.get('felix_connections')).toEqual([{ labels: {}, value: 3 }]);
    expect(total(scrape, 'felix_subscriber_dropped_events_total')).toBe(7);
    expect(scrape.get('felix_weird')).toEqual([
      { labels: { a: 'x"y', b: 'new\nline', c: 'back\\slash' }, value: 1500 },
    ]);
    expect(total(scrape, 'felix_inf')).toBe(Number.POSITIVE_INFINITY);
    expect(total(scrape, 'felix_with_timestamp')).toBe(4);
    expect(total(scrape, 'felix_absent')).toBeUndefined();
  });

  it('refuses what is not Prometheus text', () => {
    expect(() => parsePrometheusText('<html>not metrics</html>')).toThrow(PrometheusTextError);
    expect(() => parsePrometheusText('felix_x{a="1" 2')).toThrow(PrometheusTextError);
    expect(() => parsePrometheusText('felix_x twelve')).toThrow(PrometheusTextError);
  });
});

describe('felix-ts status screen', () => {
  it('takes rates from the counters’ difference over the sample and gauges from the second scrape', () => {
    const before = parsePrometheusText(
      'felix_published_messages_total 100\nfelix_delivered_events_total 200\nfelix_connections 1\n' +
        'felix_cache_hits_total 3\nfelix_cache_misses_total 1\n',
    );
    const after = parsePrometheusText(
      'felix_published_messages_total 300\nfelix_delivered_events_total 600\nfelix_connections 4\n' +
        'felix_cache_hits_total 9\nfelix_cache_misses_total 3\nfelix_subscriber_dropped_events_total{policy="drop_new"} 6\n',
    );
    const screen = renderStatus({ source: 'http://h:1/metrics', before, after, seconds: 2 });
    expect(screen).toContain('publish        100 msg/s, 0 B/s (300 messages in all)');
    expect(screen).toContain('deliver        200 events/s');
    expect(screen).toContain('connections    4 open');
    expect(screen).toContain('drops          subscriber queues 3 events/s (6 in all)');
    expect(screen).toContain('cache          hit ratio 75.0% (9 hits, 3 misses), gets 4/s');
    expect(screen).not.toContain('storage');
  });
});
