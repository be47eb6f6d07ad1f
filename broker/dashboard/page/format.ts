// How the dashboard writes numbers. en-US on purpose: the page and its screenshot read the same on
// every machine, whatever the browser's locale.

const counts = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function formatCount(n: number): string {
  return counts.format(n);
}

/** Events per second: a decimal only where it carries information. */
export function formatRate(perSecond: number): string {
  return perSecond < 10 ? oneDecimal.format(perSecond) : counts.format(perSecond);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? counts.format(value) : oneDecimal.format(value)} ${units[unit]}`;
}

export function formatPercent(ratio: number | null): string {
  return ratio === null ? '–' : `${oneDecimal.format(ratio * 100)} %`;
}

export function formatMicros(us: number): string {
  return `${counts.format(us)} µs`;
}

/** Wall-clock time with milliseconds, e.g. 14:03:07.412. */
export function formatClock(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** An uptime or age: the two largest units, e.g. 3 d 4 h, 2 h 5 min, 4 min 9 s, 12 s. */
export function formatDuration(ms: number): string {
  const seconds = Math.floor(Math.max(0, ms) / 1000);
  const units: [number, string][] = [
    [86_400, 'd'],
    [3_600, 'h'],
    [60, 'min'],
    [1, 's'],
  ];
  for (let i = 0; i < units.length - 1; i++) {
    const [size, name] = units[i]!;
    if (seconds >= size) {
      const [nextSize, nextName] = units[i + 1]!;
      return `${Math.floor(seconds / size)} ${name} ${Math.floor((seconds % size) / nextSize)} ${nextName}`;
    }
  }
  return `${seconds} s`;
}

/** Milliseconds with the precision that matters at that size: 0.42 ms, 3.1 ms, 250 ms. */
export function formatMillis(ms: number): string {
  const digits = ms < 1 ? 2 : ms < 10 ? 1 : 0;
  return `${new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(ms)} ms`;
}
