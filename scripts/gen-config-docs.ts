import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as prettier from 'prettier';
import { renderConfigurationDoc } from '../config/reference-doc.js';

/** The script runs from scripts/ (tests) and from dist/scripts/ (built); both sit below package.json. */
function repositoryRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error('gen-config-docs: no package.json above this script');
    directory = parent;
  }
  return directory;
}

export const CONFIGURATION_DOC_PATH = join(repositoryRoot(), 'docs', 'configuration.md');

/** The page exactly as committed: rendered from the schemas, then formatted like every other file. */
export async function formattedConfigurationDoc(): Promise<string> {
  const options = (await prettier.resolveConfig(CONFIGURATION_DOC_PATH)) ?? {};
  return prettier.format(renderConfigurationDoc(), { ...options, filepath: CONFIGURATION_DOC_PATH });
}

async function main(): Promise<void> {
  writeFileSync(CONFIGURATION_DOC_PATH, await formattedConfigurationDoc());
  console.log(`wrote ${CONFIGURATION_DOC_PATH}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
