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
