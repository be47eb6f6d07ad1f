/**
 * FELIX_DASHBOARD_LATENCY_BANDS_US as numbers. The loader already checked the text (three ascending
 * whole numbers), so this only splits it; unset means no colouring.
 */
export function latencyBandsFrom(setting: string | null): number[] {
  return setting === null ? [] : setting.split(',').map(Number);
}
