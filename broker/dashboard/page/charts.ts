import type { DashboardSnapshot } from '../snapshot-types.js';
import { History } from './history.js';
import { LiveChart, type SeriesSpec } from './live-chart.js';

const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];
/** Streams drawn in the per-stream chart: more lines than this are unreadable (the table lists more). */
const STREAMS_CHARTED = 4;

function host(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`dashboard page lacks #${id}`);
  return element;
}

/** The six charts, fed from one history of the snapshots received. */
export class DashboardCharts {
  private readonly history = new History();
  private readonly streamColours = new Map<string, string>();
  private readonly connections = new LiveChart(host('plot-connections'), { unit: 'open' });
  private readonly throughput = new LiveChart(host('plot-throughput'), { unit: 'events/s' });
  private readonly streams = new LiveChart(host('plot-streams'), { unit: 'events/s' });
  private readonly hops = new LiveChart(host('plot-hops'), { unit: 'µs', log: true });
  private readonly drops = new LiveChart(host('plot-drops'), { unit: 'events/s' });
  private readonly cache = new LiveChart(host('plot-cache'), {
    unit: 'hit %',
    rightUnit: 'evictions/s',
    range: [0, 100],
  });

  update(s: DashboardSnapshot): void {
    this.history.record(s.at, valuesOf(s));
    const times = this.history.times;
    const line = (
      label: string,
      key: string,
      colour: string,
      more: Partial<SeriesSpec> = {},
    ): SeriesSpec => ({
      label,
      colour,
      values: this.history.column(key),
      ...more,
    });
    this.connections.update(times, [
      line('connections', 'connections', PALETTE[0]!),
      line('subscriptions', 'subscriptions', PALETTE[1]!),
    ]);
    this.throughput.update(times, [
      line('published', 'published', PALETTE[0]!),
      line('delivered', 'delivered', PALETTE[1]!),
    ]);
    this.streams.update(
      times,
      s.streams.slice(0, STREAMS_CHARTED).flatMap(({ stream }) => {
        const colour = this.colourOf(stream);
        return [
          line(`${stream} publish`, `publish ${stream}`, colour),
          line(`${stream} fan-out`, `fanout ${stream}`, colour, { dashed: true }),
        ];
      }),
    );
    host('plot-hops').hidden = s.hops === null;
    host('timings-off').hidden = s.hops !== null;
    if (s.hops !== null) {
      this.hops.update(
        times,
        Object.keys(s.hops).flatMap((hop, i) => [
          line(`${hop} p99`, `p99 ${hop}`, PALETTE[i % PALETTE.length]!),
          line(`${hop} p50`, `p50 ${hop}`, PALETTE[i % PALETTE.length]!, { dashed: true }),
        ]),
      );
    }
    this.drops.update(
      times,
      Object.keys(s.drops).map((policy, i) =>
        line(policy, `drops ${policy}`, PALETTE[(i + 3) % PALETTE.length]!),
      ),
    );
    this.cache.update(times, [
      line('hit ratio', 'cacheHitRatio', PALETTE[1]!),
      line('evictions', 'cacheEvictions', PALETTE[3]!, { rightAxis: true }),
    ]);
  }

  fit(): void {
    for (const chart of [
      this.connections,
      this.throughput,
      this.streams,
      this.hops,
      this.drops,
      this.cache,
    ]) {
      chart.fit();
    }
  }

  /** A stream keeps its colour while it comes and goes from the busiest few. */
  private colourOf(stream: string): string {
    let colour = this.streamColours.get(stream);
    if (colour === undefined) {
      colour = PALETTE[this.streamColours.size % PALETTE.length]!;
      this.streamColours.set(stream, colour);
    }
    return colour;
  }
}

/** One snapshot as the named points the history keeps. */
function valuesOf(s: DashboardSnapshot): Record<string, number | null> {
  const values: Record<string, number | null> = {
    connections: s.connections,
    subscriptions: s.subscriptions,
    published: s.published.perSecond,
    delivered: s.delivered.perSecond,
    cacheHitRatio: s.cache.hitRatio === null ? null : s.cache.hitRatio * 100,
    cacheEvictions: s.cache.evictions.perSecond,
  };
  for (const { stream, published, fannedOut } of s.streams) {
    values[`publish ${stream}`] = published.perSecond;
    values[`fanout ${stream}`] = fannedOut.perSecond;
  }
  // An interval without samples has no percentile (and 0 cannot go on a log scale): a gap, not a 0.
  for (const [hop, h] of Object.entries(s.hops ?? {})) {
    values[`p50 ${hop}`] = h.count > 0 ? h.p50Us : null;
    values[`p99 ${hop}`] = h.count > 0 ? h.p99Us : null;
  }
  for (const [policy, d] of Object.entries(s.drops)) values[`drops ${policy}`] = d.perSecond;
  return values;
}
