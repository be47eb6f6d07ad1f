import type { SettingsSchema } from './setting.js';
import type { CrossCheck } from './side.js';

type NumericKey<C> = { [K in keyof C]: C[K] extends number ? K : never }[keyof C] & string;

/** `lower` ≤ `upper`, e.g. a stream window within its connection window. */
export function notAbove<C>(
  settings: SettingsSchema,
  lower: NumericKey<C>,
  upper: NumericKey<C>,
  because: string,
): CrossCheck<C> {
  return {
    settings: [lower, upper],
    rule: `${settings[lower].env} must not exceed ${settings[upper].env}: ${because}`,
    holds: (config) => Number(config[lower]) <= Number(config[upper]),
  };
}

/** `part` plus a fixed reserve ≤ `whole`, e.g. a publish chunk plus its frame envelope within a frame. */
export function fitsWithReserve<C>(
  settings: SettingsSchema,
  part: NumericKey<C>,
  reserveBytes: number,
  whole: NumericKey<C>,
  because: string,
): CrossCheck<C> {
  return {
    settings: [part, whole],
    rule: `${settings[part].env} plus ${reserveBytes} bytes must not exceed ${settings[whole].env}: ${because}`,
    holds: (config) => Number(config[part]) + reserveBytes <= Number(config[whole]),
  };
}

/**
 * `share` between `lower` and `upper` unless 0 (then derived from them, and always in between), e.g. a
 * tenant's share of a broker-wide bound, no smaller than one connection's.
 */
export function shareBetween<C>(
  settings: SettingsSchema,
  share: NumericKey<C>,
  lower: NumericKey<C>,
  upper: NumericKey<C>,
  because: string,
): CrossCheck<C> {
  return {
    settings: [share, lower, upper],
    rule:
      `${settings[share].env}, unless 0, must lie between ${settings[lower].env} and ` +
      `${settings[upper].env}: ${because}`,
    holds: (config) => {
      const value = Number(config[share]);
      return value === 0 || (Number(config[lower]) <= value && value <= Number(config[upper]));
    },
  };
}
