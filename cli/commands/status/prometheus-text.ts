/**
 * A reader for the Prometheus text exposition format (version 0.0.4), the part a broker's /metrics uses:
 * `name{label="value",…} value [timestamp]` lines, `#` comments. The package's only Prometheus library,
 * prom-client, writes this format but cannot read it, and a dozen lines here spare a runtime dependency.
 */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Samples by metric name (histogram and summary series keep their _bucket/_sum/_count names). */
export type Scrape = ReadonlyMap<string, readonly Sample[]>;

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;

export class PrometheusTextError extends Error {}

export function parsePrometheusText(text: string): Scrape {
  const samples = new Map<string, Sample[]>();
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    const value = match === null ? NaN : parseValue(match[3]);
    if (match === null || Number.isNaN(value) !== (match[3] === 'NaN')) {
      throw new PrometheusTextError(`line ${index + 1} is not a Prometheus sample: ${line.slice(0, 120)}`);
    }
    const labels = match[2] === undefined ? {} : parseLabels(match[2], index + 1);
    const list = samples.get(match[1]) ?? [];
    list.push({ labels, value });
    samples.set(match[1], list);
  }
  return samples;
}

function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return NaN;
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : NaN;
}

function parseLabels(text: string, lineNumber: number): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const start = LABEL.lastIndex;
    const match = LABEL.exec(text);
    if (match === null || LABEL.lastIndex === start) {
      if (text.slice(start).trim() === '') break;
      throw new PrometheusTextError(`line ${lineNumber}: malformed labels {${text}}`);
    }
    labels[match[1]] = match[2].replace(/\\(.)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped));
  }
  return labels;
}

/** The sum of a metric's samples over all its labels; undefined when the scrape has no such metric. */
export function total(scrape: Scrape, name: string): number | undefined {
  const list = scrape.get(name);
  if (list === undefined) return undefined;
  return list.reduce((sum, sample) => sum + sample.value, 0);
}
