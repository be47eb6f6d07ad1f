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
    throw new ConfigError(`${where}: unknown key ${key}.${suggestion(key, accepted, side, catalogue)}`, {
      setting: key,
    });
  }
}

/**
 * A close key this side reads; failing that, a close key only the other side reads (a misspelt copy from the
 * other file, `pubConnPool` in the broker's), named with the file it belongs in.
 */
function suggestion(
  key: string,
  accepted: ReadonlySet<string>,
  side: SideShape,
  catalogue: Catalogue,
): string {
  const here = suggestNames(key, accepted);
  if (here.length > 0) return didYouMean(here);
  const elsewhere = [...catalogue.yamlKeyReaders].filter(([, sides]) => !sides.includes(side.side));
  const [near] = suggestNames(
    key,
    elsewhere.map(([name]) => name),
  );
  const otherSide = near === undefined ? undefined : catalogue.yamlKeyReaders.get(near)?.[0];
  if (near === undefined || otherSide === undefined) return '';
  return (
    ` Did you mean ${near}? It is a ${otherSide} setting, which the ${side.side} does not read; ` +
    `put it in the ${otherSide}'s file (${CONFIG_FILE_ENV[otherSide]}).`
  );
}
