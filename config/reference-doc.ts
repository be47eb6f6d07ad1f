import { stringify } from 'yaml';
import { brokerSide } from './broker-settings.js';
import { catalogue, catalogueEntries, type CatalogueEntry } from './catalogue.js';
import { flagNameOf, loadOptionsFromFlags } from './cli-flags.js';
import { clientSide } from './client-settings.js';
import { ConfigError } from './errors.js';
import { loadSide } from './load.js';
import type { Setting } from './setting.js';
import { CONFIG_FILE_ENV, type SideShape } from './side.js';
import { tenantsSection } from './tenants.js';
import { checkYamlKeys } from './yaml-keys.js';

/*
 * Renders docs/configuration.md from the schemas. Everything specific to a setting comes from its
 * declaration; the error examples come from running the loader, so the page cannot describe a
 * message format the code no longer produces.
 */

const GENERATED_NOTE =
  '<!-- Generated from the settings schemas in config/ by scripts/gen-config-docs.ts. Do not edit: ' +
  'run `npm run build && node dist/scripts/gen-config-docs.js`. -->';

type Readers = 'both' | 'broker' | 'client';
const READER_GROUPS: readonly (readonly [Readers, string])[] = [
  ['both', 'Settings both sides read'],
  ['broker', 'Broker settings'],
  ['client', 'Client settings'],
];

function readers(entry: CatalogueEntry): Readers {
  return entry.sides.length === 2 ? 'both' : entry.sides[0];
}

/** Shared settings first, then the broker's, then the client's; declaration order within each. */
function orderedEntries(): CatalogueEntry[] {
  return READER_GROUPS.flatMap(([group]) => catalogueEntries().filter((entry) => readers(entry) === group));
}

function highMemoryValue(setting: Setting<unknown>): string {
  const value = setting.profiles['high-memory'];
  return value === undefined ? '—' : setting.kind.format(value);
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function keyOf(side: SideShape, setting: Setting<unknown>): string {
  return Object.entries(side.settings).find(([, candidate]) => candidate === setting)?.[0] ?? '';
}

function optionNames(entry: CatalogueEntry): string {
  const names: string[] = [];
  if (entry.sides.includes('client')) names.push(`connect option \`${keyOf(clientSide, entry.setting)}\``);
  if (entry.sides.includes('broker')) names.push(`flag \`${flagNameOf(keyOf(brokerSide, entry.setting))}\``);
  return names.join(', ');
}

function settingDetails(entry: CatalogueEntry): string {
  const { setting } = entry;
  const facts = [
    `- **Read by:** ${readers(entry)} · **YAML key:** \`${setting.yamlKey}\` · **Explicit:** ${optionNames(entry)}`,
    `- **Default:** ${setting.kind.format(setting.default)} · **high-memory:** ${highMemoryValue(setting)}`,
    `- **Allowed** (${setting.kind.name}): ${setting.kind.allowed}`,
  ];
  if (setting.envAliases.length > 0) {
    facts.push(
      `- **Also read as:** ${setting.envAliases.map((alias) => `\`${alias}\``).join(', ')} (Felix's name)`,
    );
  }
  return [`### \`${setting.env}\``, facts.join('\n'), setting.doc].join('\n\n');
}

/** A YAML file setting every setting of `side` to its default (unset ones commented out). */
export function exampleYaml(side: SideShape): string {
  const lines = Object.values(side.settings).map((setting) => {
    const value = setting.kind.toYaml(setting.default);
    return value === undefined
      ? `# ${setting.yamlKey}: (unset by default)`
      : `${setting.yamlKey}: ${stringify(value).trim()}`;
  });
  return lines.join('\n');
}

/** Runs `attempt`, which must fail with a ConfigError, and returns its message. */
function errorMessage(attempt: () => unknown): string {
  try {
    attempt();
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('the documented error example did not fail');
}

function errorExamples(): string {
  const file = (key: string) => ({
    path: '/etc/felix/client.yml',
    entries: new Map([[key, { value: 8, line: 3, lineOf: () => 3 }]]),
  });
  const examples: [string, string][] = [
    [
      'A value out of range in the environment',
      errorMessage(() => loadSide(clientSide, catalogue, { env: { FELIX_EVENT_CONN_POOL: '0' } })),
    ],
    [
      'A byte size with a decimal suffix',
      errorMessage(() => loadSide(brokerSide, catalogue, { env: { FELIX_EVENT_BATCH_MAX_BYTES: '64KB' } })),
    ],
    [
      'A connect option outside the allowed values',
      errorMessage(() => loadSide(clientSide, catalogue, { env: {}, overrides: { pubSharding: 'random' } })),
    ],
    [
      'A broker flag',
      errorMessage(() =>
        loadSide(brokerSide, catalogue, {
          env: {},
          ...loadOptionsFromFlags({ subQueuePolicy: 'drop' }, brokerSide.settings),
        }),
      ),
    ],
    ['A misspelt YAML key', errorMessage(() => checkYamlKeys(clientSide, file('event_con_pool'), catalogue))],
    [
      "A YAML key from the other side's file",
      errorMessage(() => checkYamlKeys(clientSide, file('quic_bind'), catalogue)),
    ],
    [
      'Settings that contradict each other',
      errorMessage(() =>
        loadSide(brokerSide, catalogue, { env: { FELIX_BROKER_STREAM_RECV_WINDOW: '512MiB' } }),
      ),
    ],
    [
      'An unknown profile',
      errorMessage(() => loadSide(clientSide, catalogue, { env: { FELIX_PROFILE: 'fast' } })),
    ],
  ];
  const warning = loadSide(clientSide, catalogue, { env: { FELIX_EVENT_CONN_POLL: '4' } }).warnings[0];
  return [
    ...examples.map(([title, message]) => `${title}:\n\n\`\`\`text\n${message}\n\`\`\``),
    `An unknown \`FELIX_*\` variable (a warning returned to the caller, which logs it):\n\n\`\`\`text\n${warning}\n\`\`\``,
  ].join('\n\n');
}

/** Every alias with the setting it stands for, for the introduction: found there, not only under each setting. */
function aliasList(): string {
  return catalogueEntries()
    .flatMap(({ setting }) => setting.envAliases.map((alias) => `\`${alias}\` for \`${setting.env}\``))
    .join(', ');
}

const INTRODUCTION = `# Configuration

${GENERATED_NOTE}

The broker and the client SDK read their settings through one loader per side (\`loadBrokerConfig\` in
\`broker/config.ts\`, \`loadClientConfig\` in \`client/config.ts\`), both driven by the schemas in
\`config/\`. Names follow Felix: every setting has an environment name \`FELIX_…\`, a YAML key (the same name
in lower case without \`FELIX_\`), and a property name (the YAML key in camelCase) used by the SDK's connect
options and, in kebab case, by the broker's command-line flags. A setting read by both sides is declared
once and means the same on both.

## Where values come from

Each setting takes the value of the highest layer that sets it:

1. the built-in default;
2. the profile chosen by \`FELIX_PROFILE\` (or the \`profile\` option / \`--profile\` flag): \`balanced\`
   (the defaults) or \`high-memory\`;
3. the YAML file named by \`${CONFIG_FILE_ENV.broker}\` (broker) or \`${CONFIG_FILE_ENV.client}\` (client), or by
   the \`configPath\` option / \`--config\` flag; there is no implicit default path;
4. the environment;
5. explicit options: the SDK's connect options, the broker's command-line flags.

Every layer is validated, including one that a higher layer replaces: a bad value anywhere stops start-up
with a \`ConfigError\`. Nothing falls back silently:

- an unknown key in the YAML file is an error, with a suggestion when it is close to a known key, and a key
  that belongs to the other side's file is an error that says so (also when it is only close to one);
- an empty value (\`FELIX_X=\`) is a bad value, not "use the default";
- a few settings are also read under the name Felix gives them (${aliasList()}); setting a variable together
  with its alias is an error, since the two could disagree;
- an invalid \`FELIX_PROFILE\` is an error, also when \`--profile\` (the \`profile\` option) replaces it; a
  \`FELIX_BROKER_CONFIG\` / \`FELIX_CLIENT_CONFIG\` that \`--config\` (\`configPath\`) replaces must not be empty,
  but its file is not read: the flag chose another;
- a \`FELIX_*\` variable that neither side reads is returned as a warning (not an error: broker and clients
  often share one environment).

The loaded configuration is a frozen, typed object. Next to it the loader returns, for every value, where
it came from (\`default\`, \`profile\`, \`yaml\`, \`env\` or \`override\`, with the file line, variable
or option), ready to be logged at start-up.`;

const VALUE_FORMATS = `## Value formats

${table(
  ['kind', 'accepted'],
  [
    [
      'integer',
      'decimal digits only (no sign, no 0x, no exponent), in the YAML file as in the environment: a YAML ' +
        'number written otherwise (1e3, 0x10, 5.0, +5) is refused, though YAML reads it as a whole number',
    ],
    [
      'byte size',
      'a number of bytes, or a number with a binary suffix B, KiB, MiB, GiB or TiB in any letter case (64KiB, 256 MiB, 1gib); decimal suffixes (KB, MB) are refused as ambiguous',
    ],
    ['duration', 'an integer in the unit the name ends with: `_MS` milliseconds, `_US` microseconds'],
    ['boolean', '1, 0, true or false (not yes/no/on/off)'],
    ['enum', 'exactly one of the listed values'],
    [
      'bind address',
      'host:port with an IPv4 address, a host name or a bracketed IPv6 address; port 0 picks a free port',
    ],
    ['file path', 'the path of an existing file, checked at start-up'],
    [
      'certificate file',
      'the path of an existing file whose PEM certificates all parse, checked at start-up (or at connect)',
    ],
  ],
)}`;

function profilesSection(): string {
  const tuned = orderedEntries().filter(({ setting }) => setting.profiles['high-memory'] !== undefined);
  return `## Profiles

\`balanced\` is the built-in defaults. \`high-memory\` raises every flow-control window and the publish chunk and
turns timing collection off:

${table(
  ['setting', 'balanced', 'high-memory'],
  tuned.map(({ setting }) => [
    `\`${setting.env}\``,
    setting.kind.format(setting.default),
    highMemoryValue(setting),
  ]),
)}

A profile only moves defaults: the YAML file, the environment and explicit options still win over it.`;
}

function overviewSection(): string {
  return `## Settings at a glance

${table(
  ['setting', 'read by', 'default', 'high-memory', 'allowed'],
  orderedEntries().map((entry) => [
    `[\`${entry.setting.env}\`](#${entry.setting.env.toLowerCase()})`,
    readers(entry),
    entry.setting.kind.format(entry.setting.default),
    highMemoryValue(entry.setting),
    entry.setting.kind.summary,
  ]),
)}`;
}

function rulesSection(): string {
  const rules = (side: { readonly checks: readonly { readonly rule: string }[] }) =>
    side.checks.map((check) => `- ${check.rule}.`).join('\n');
  return `## Rules between settings

Checked after all layers are applied; a broken rule stops start-up and names every setting involved with
its value and origin. Every broken rule is reported, one line each, not only the first: one value may break
several (a larger \`FELIX_MAX_FRAME_BYTES\` outgrows \`FELIX_CONN_PARTIAL_FRAME_BYTES\` and
\`FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES\`).

Broker:

${rules(brokerSide)}

Client:

${rules(clientSide)}`;
}

function tenantsBlock(): string {
  return `## The broker's \`tenants:\` block

${tenantsSection.doc}

\`\`\`yaml
${tenantsSection.example}
\`\`\``;
}

function examplesSection(): string {
  return `## Example files

Every setting at its default. Byte sizes may keep their suffix in YAML.

Broker (\`${CONFIG_FILE_ENV.broker}\`):

\`\`\`yaml
${exampleYaml(brokerSide)}
\`\`\`

Client (\`${CONFIG_FILE_ENV.client}\`):

\`\`\`yaml
${exampleYaml(clientSide)}
\`\`\``;
}

function errorsSection(): string {
  return `## Errors and warnings

A \`ConfigError\` names the setting, where the value came from, the value itself (quoted, so stray spaces
show) and what is allowed. A value from the YAML file is named as \`YAML key event_conn_pool in
/etc/felix/client.yml line 3\`. These messages are produced by the loader itself:

${errorExamples()}`;
}

/** The whole page, unformatted; scripts/gen-config-docs.ts runs it through prettier before writing. */
export function renderConfigurationDoc(): string {
  return [
    INTRODUCTION,
    VALUE_FORMATS,
    profilesSection(),
    overviewSection(),
    rulesSection(),
    ...READER_GROUPS.map(([group, title]) => {
      const entries = orderedEntries().filter((entry) => readers(entry) === group);
      return `## ${title}\n\n${entries.map(settingDetails).join('\n\n')}`;
    }),
    tenantsBlock(),
    examplesSection(),
    errorsSection(),
  ].join('\n\n');
}
