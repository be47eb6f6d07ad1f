import { brokerSide } from './broker-settings.js';
import { clientSide } from './client-settings.js';
import type { Setting } from './setting.js';
import { CONFIG_FILE_ENV, type Catalogue, type SideName, type SideShape } from './side.js';

export const SIDES: readonly SideShape[] = [brokerSide, clientSide];

/** FELIX_* names that choose how settings are loaded rather than being settings themselves. */
export const LOADER_ENV_NAMES = ['FELIX_PROFILE', ...Object.values(CONFIG_FILE_ENV)] as const;

/** FELIX_* names cachedemo reads (Felix's, plus DURATION_MS); known so the loaders do not warn about them. */
export const CACHE_BENCH_ENV_NAMES = [
  'FELIX_CACHE_BENCH_WARMUP',
  'FELIX_CACHE_BENCH_SAMPLES',
  'FELIX_CACHE_BENCH_DURATION_MS',
  'FELIX_CACHE_BENCH_PAYLOADS',
  'FELIX_CACHE_BENCH_TTL_MS',
  'FELIX_CACHE_BENCH_CONCURRENCY',
  'FELIX_CACHE_BENCH_KEYS',
  'FELIX_CACHE_BENCH_OPS',
  'FELIX_CACHE_BENCH_VALIDATE_EACH',
  'FELIX_CACHE_BENCH_CONN_STATS',
  'FELIX_CACHE_BENCH_TIMINGS',
] as const;

export interface CatalogueEntry {
  readonly setting: Setting<unknown>;
  readonly sides: readonly SideName[];
}

/** Every setting once, with the sides that read it; shared settings are the same object on both sides. */
export function catalogueEntries(): CatalogueEntry[] {
  const entries = new Map<string, { setting: Setting<unknown>; sides: SideName[] }>();
  for (const side of SIDES) {
    for (const setting of Object.values(side.settings)) {
      const entry = entries.get(setting.env) ?? { setting, sides: [] };
      entry.sides.push(side.side);
      entries.set(setting.env, entry);
    }
  }
  return [...entries.values()];
}

function buildCatalogue(): Catalogue {
  const knownEnvNames = new Set<string>([...LOADER_ENV_NAMES, ...CACHE_BENCH_ENV_NAMES]);
  const yamlKeyReaders = new Map<string, SideName[]>();
  for (const { setting, sides } of catalogueEntries()) {
    for (const name of [setting.env, ...setting.envAliases]) knownEnvNames.add(name);
    yamlKeyReaders.set(setting.yamlKey, [...sides]);
  }
  for (const side of SIDES) {
    for (const section of Object.values(side.sections)) yamlKeyReaders.set(section.yamlKey, [side.side]);
  }
  return { knownEnvNames, yamlKeyReaders };
}

/** What both loaders share: which names exist anywhere in felix-ts, and which side reads each YAML key. */
export const catalogue: Catalogue = buildCatalogue();
