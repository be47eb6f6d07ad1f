import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { loadClientConfig } from '../../client/config.js';
import { brokerSide } from '../../config/broker-settings.js';
import { catalogueEntries } from '../../config/catalogue.js';
import { clientSide } from '../../config/client-settings.js';
import { exampleYaml, renderConfigurationDoc } from '../../config/reference-doc.js';
import { CONFIGURATION_DOC_PATH, formattedConfigurationDoc } from '../../scripts/gen-config-docs.js';
import { writeTempFile } from './helpers.js';

describe('docs/configuration.md', () => {
  it('is up to date with the schemas', async () => {
    const committed = readFileSync(CONFIGURATION_DOC_PATH, 'utf8');
    // On failure: npm run build && node dist/scripts/gen-config-docs.js
    expect(committed).toBe(await formattedConfigurationDoc());
  });

  it('has a section for every setting, naming its YAML key and default', () => {
    const page = renderConfigurationDoc();
    for (const { setting } of catalogueEntries()) {
      const section = page.split(`### \`${setting.env}\``)[1]?.split('\n### ')[0];
      expect(section, setting.env).toBeDefined();
      expect(section).toContain(`\`${setting.yamlKey}\``);
      expect(section).toContain(`**Default:** ${setting.kind.format(setting.default)}`);
      expect(section).toContain(setting.doc);
    }
  });

  it('lists every Felix alias where it says aliases exist, not only under its setting', () => {
    const page = renderConfigurationDoc();
    const whereValuesComeFrom = page.split('## Where values come from')[1]!.split('\n## ')[0]!;
    const aliases = catalogueEntries().flatMap(({ setting }) =>
      setting.envAliases.map((alias) => `\`${alias}\` for \`${setting.env}\``),
    );
    expect(aliases).toContain('`FELIX_SUB_CONNS` for `FELIX_EVENT_CONN_POOL`');
    for (const alias of aliases) expect(whereValuesComeFrom).toContain(alias);
  });

  it('shows example files that load to the defaults', () => {
    const broker = loadBrokerConfig({ env: { FELIX_BROKER_CONFIG: writeTempFile(exampleYaml(brokerSide)) } });
    const client = loadClientConfig({ env: { FELIX_CLIENT_CONFIG: writeTempFile(exampleYaml(clientSide)) } });
    expect(broker.config).toEqual(loadBrokerConfig({ env: {} }).config);
    expect(client.config).toEqual(loadClientConfig({ env: {} }).config);
    expect(broker.provenance.quicBind.source).toBe('yaml');
  });
});
