import { ConfigError } from './errors.js';
import { CONFIG_FILE_ENV, type Catalogue, type SideShape } from './side.js';
import { didYouMean, suggestNames } from './suggest.js';
import type { YamlFile } from './yaml-file.js';

/**
 * Rejects keys this side does not read. A key the other side reads gets "wrong file" rather than a
 * spelling suggestion, because that is the likelier mistake when one file is copied from the other.
 */
export function checkYamlKeys(side: SideShape, file: YamlFile, catalogue: Catalogue): void {
  const accepted = new Set([
    ...Object.values(side.settings).map((setting) => setting.yamlKey),
    ...Object.values(side.sections).map((section) => section.yamlKey),
  ]);
  for (const [key, { line }] of file.entries) {
    if (accepted.has(key)) continue;
    const where = `${file.path} line ${line}`;
    const otherSide = catalogue.yamlKeyReaders.get(key)?.[0];
    if (otherSide !== undefined) {
      throw new ConfigError(
        `${where}: ${key} is a ${otherSide} setting, which the ${side.side} does not read; ` +
          `put it in the ${otherSide}'s file (${CONFIG_FILE_ENV[otherSide]}).`,
        { setting: key },
      );
    }
    throw new ConfigError(`${where}: unknown key ${key}.${didYouMean(suggestNames(key, accepted))}`, {
      setting: key,
    });
  }
}
