import type { SettingValue, SettingsOf, SettingsSchema } from './setting.js';

export type SideName = 'broker' | 'client';

/** The environment variable naming each side's YAML file. */
export const CONFIG_FILE_ENV = {
  broker: 'FELIX_BROKER_CONFIG',
  client: 'FELIX_CLIENT_CONFIG',
} as const satisfies Record<SideName, string>;

/**
 * A structured YAML-only block (the broker's `tenants:`): too rich for one environment variable, so it is
 * read from the file or given as an explicit option, never from the environment.
 */
export interface Section<T, Input> {
  readonly yamlKey: string;
  readonly doc: string;
  readonly default: T;
  /** A YAML snippet showing the block, for docs/configuration.md. */
  readonly example: string;
  /**
   * Throws ConfigError naming `where` (file and line, or the option) when `raw` is malformed. Declared
   * with `Input` so options are typed; YAML hands it whatever the file holds, hence the runtime checks.
   * `whereIs`, from a YAML file: where a path inside the block is (its own line), for the error to name.
   */
  parse(raw: Input, where: string, whereIs?: (path: readonly (string | number)[]) => string): T;
  format(value: T): string;
}

export type SectionsSchema = Readonly<Record<string, Section<unknown, unknown>>>;
export type SectionsOf<X extends SectionsSchema> = {
  readonly [K in keyof X]: X[K] extends Section<infer T, unknown> ? T : never;
};
type SectionInputsOf<X extends SectionsSchema> = {
  readonly [K in keyof X]?: X[K] extends Section<unknown, infer Input> ? Input : never;
};

export type SideConfig<S extends SettingsSchema, X extends SectionsSchema> = SettingsOf<S> & SectionsOf<X>;

/** Explicit options: typed values (SDK connect options) or strings (CLI flags), parsed like any source. */
export type SideOverrides<S extends SettingsSchema, X extends SectionsSchema> = {
  readonly [K in keyof S]?: SettingValue<S[K]> | string;
} & SectionInputsOf<X>;

/** A rule spanning several settings, checked once every layer is applied. */
export interface CrossCheck<C> {
  readonly settings: readonly (keyof C & string)[];
  /** The rule and why it exists, naming settings by their environment names. */
  readonly rule: string;
  holds(config: C): boolean;
}

export interface SideSpec<S extends SettingsSchema, X extends SectionsSchema> {
  readonly side: SideName;
  readonly settings: S;
  readonly sections: X;
  readonly checks: readonly CrossCheck<SideConfig<S, X>>[];
}

/** What a side's loader must know about the whole product, beyond its own settings. */
export interface Catalogue {
  /** Every FELIX_* name either side reads, so that only truly unknown names draw a warning. */
  readonly knownEnvNames: ReadonlySet<string>;
  /** YAML key → the sides reading it, to tell "belongs in the other file" from "misspelt". */
  readonly yamlKeyReaders: ReadonlyMap<string, readonly SideName[]>;
}

/** What the loader's helpers need of any side, without the checks' side-specific config type. */
export type SideShape = Pick<SideSpec<SettingsSchema, SectionsSchema>, 'side' | 'settings' | 'sections'>;

export function defineSide<S extends SettingsSchema, X extends SectionsSchema>(
  spec: SideSpec<S, X>,
): SideSpec<S, X> {
  return Object.freeze(spec);
}
