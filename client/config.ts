import { catalogue } from '../config/catalogue.js';
import { clientSide, type ClientConfig } from '../config/client-settings.js';
import { loadSide, type LoadedConfig, type LoadOptions } from '../config/load.js';

export type { ClientConfig } from '../config/client-settings.js';
export type { Provenance, ReportLine, Source } from '../config/load.js';
export { ConfigError } from '../config/errors.js';
export { FRAME_ENVELOPE_RESERVE_BYTES } from '../config/shared-settings.js';

export type ClientLoadOptions = LoadOptions<typeof clientSide.settings, typeof clientSide.sections>;
export type LoadedClientConfig = LoadedConfig<ClientConfig>;

/** Connect options: any client setting by its property name, typed (eventConnPool: 4) or as text. */
export type ClientSettingOptions = NonNullable<ClientLoadOptions['overrides']>;

/**
 * The client's settings: defaults < FELIX_PROFILE < FELIX_CLIENT_CONFIG (YAML) < environment < the
 * connect options. Throws ConfigError on any bad value; `warnings` lists unknown FELIX_* variables.
 */
export function loadClientConfig(options: ClientLoadOptions = {}): LoadedClientConfig {
  return loadSide(clientSide, catalogue, options);
}
