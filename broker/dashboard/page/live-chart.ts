import uPlot from 'uplot';
import type { Column } from './history.js';

export interface SeriesSpec {
  readonly label: string;
  readonly colour: string;
  /** Dashed line, e.g. fan-out next to its stream's publish rate, or p50 next to p99. */
  readonly dashed?: boolean;
  /** A second y scale, drawn on the right (the cache chart's evictions next to its hit ratio). */
  readonly rightAxis?: boolean;
  readonly values: Column;
}

export interface ChartSpec {
  readonly unit: string;
  readonly rightUnit?: string;
  /** Log scale, for latencies whose p99 may be orders above their p50. */
  readonly log?: boolean;
  /** The left scale's range when fixed, e.g. 0–100 for a percentage. */
  readonly range?: readonly [number, number];
}

const HEIGHT = 190;

/**
 * One uPlot chart in a host element, redrawn with each snapshot. The series set is fixed per uPlot
 * instance, so a change of series (a new busiest stream) builds a new one; that is rare and cheap.
 */
export class LiveChart {
  private plot: uPlot | null = null;
  private seriesKey = '';

  constructor(
    private readonly host: HTMLElement,
    private readonly spec: ChartSpec,
  ) {}

  update(times: number[], series: readonly SeriesSpec[]): void {
    const data: uPlot.AlignedData = [times, ...series.map((s) => s.values)];
    const key = series.map((s) => `${s.label}\u0000${s.colour}`).join('\u0001');
    if (this.plot === null || key !== this.seriesKey) {
      this.plot?.destroy();
      this.seriesKey = key;
      this.plot = new uPlot(this.options(series), data, this.host);
    } else {
      this.plot.setData(data);
    }
  }

  /** Follows the page width (called on window resize). */
  fit(): void {
    this.plot?.setSize({ width: this.width(), height: HEIGHT });
  }

  private width(): number {
    return Math.max(240, this.host.clientWidth);
  }

  private options(series: readonly SeriesSpec[]): uPlot.Options {
    const { spec } = this;
    const axes: uPlot.Axis[] = [{}, { label: spec.unit, size: 60 }];
    if (series.some((s) => s.rightAxis)) {
      axes.push({ scale: 'right', side: 1, label: spec.rightUnit ?? '', size: 60, grid: { show: false } });
    }
    const y: uPlot.Scale = spec.log ? { distr: 3 } : spec.range ? { range: [...spec.range] } : {};
    return {
      width: this.width(),
      height: HEIGHT,
      scales: { x: { time: true }, y, right: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      series: [
        {},
        ...series.map((s): uPlot.Series => ({
          label: s.label,
          stroke: s.colour,
          width: 1.5,
          dash: s.dashed ? [6, 4] : undefined,
          scale: s.rightAxis ? 'right' : 'y',
          spanGaps: false,
          points: { show: false },
        })),
      ],
    };
  }
}
