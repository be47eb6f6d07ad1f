import { formatCount } from './format.js';

/**
 * The band a latency falls in, given ascending thresholds: 0 below the first, …, thresholds.length at or
 * above the last. FELIX_DASHBOARD_LATENCY_BANDS_US has three thresholds, so bands 0 (fast) to 3 (slow),
 * which the stylesheet colours green to red as .band-0 … .band-3.
 */
export function bandOf(us: number, thresholds: readonly number[]): number {
  let band = 0;
  while (band < thresholds.length && us >= thresholds[band]!) band++;
  return band;
}

/** The legend's words for each band, e.g. "< 250 µs", "250 – 1,000 µs", "≥ 5,000 µs". */
export function bandLabels(thresholds: readonly number[]): string[] {
  if (thresholds.length === 0) return [];
  const labels = [`< ${formatCount(thresholds[0]!)} µs`];
  for (let i = 1; i < thresholds.length; i++) {
    labels.push(`${formatCount(thresholds[i - 1]!)} – ${formatCount(thresholds[i]!)} µs`);
  }
  labels.push(`≥ ${formatCount(thresholds[thresholds.length - 1]!)} µs`);
  return labels;
}
