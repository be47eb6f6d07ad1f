// docs/configuration.md is generated from the settings, but README.md and the other docs quote defaults by
// hand ("`FELIX_X` (10 s by default)", a table row `| FELIX_X | 1024 | … |`), and a quote goes stale
// silently when a default changes (security.md said 1024 streams per connection long after it became 4352).
// Every such quote is read here and compared with the setting's default in the catalogue.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { catalogueEntries } from '../../config/catalogue.js';
import type { Setting } from '../../config/setting.js';
import { parseByteSize } from '../../config/units.js';

/** Hand-written docs that quote defaults (configuration.md is generated; benchmarks.md records runs). */
const DOCS = ['README.md', 'docs/protocol.md', 'docs/security.md', 'docs/durability.md'];

const settings = new Map<string, Setting<unknown>>(catalogueEntries().map((e) => [e.setting.env, e.setting]));

interface Quote {
  readonly file: string;
  readonly env: string;
  readonly text: string;
}

/** A number with an optional unit, as the docs write defaults: "10 s", "100,000", "64 MiB", "250 µs". */
const VALUE = String.raw`\d[\d,]*(?:\.\d+)? ?(?:ms|µs|s|min|h|days?|bytes|B|KiB|MiB|GiB)?`;
/** `FELIX_X` (default V…, `FELIX_X`, default V…, `FELIX_X` (V by default…, `FELIX_X`, V by default…, `FELIX_X` (V) */
const PROSE = new RegExp(
  String.raw`\x60(FELIX_[A-Z0-9_]+)\x60,? \(?(?:default (${VALUE})\b|(${VALUE}) by default|(?<=\()(${VALUE})\))`,
  'g',
);
/** A table row naming one or more settings (`A` / `B`) in its first cell, their defaults in its second. */
const ROW = /^\| *((?:`FELIX_[A-Z0-9_]+`(?: \(client\))?(?: \/ )?)+) *\| *([^|]*?) *\|/;

function quotesIn(file: string): Quote[] {
  const text = readFileSync(file, 'utf8');
  const quotes: Quote[] = [];
  const lines = text.split('\n');
  lines.forEach((line, at) => {
    const row = ROW.exec(line);
    // A header row (`| FELIX_QUIC_RETRY | behaviour |`, above its `| --- |`) names no default.
    if (row === null || lines[at + 1]?.startsWith('| -')) return;
    const names = [...row[1]!.matchAll(/`(FELIX_[A-Z0-9_]+)`/g)].map((m) => m[1]!);
    const values = row[2]!.split(' / ');
    names.forEach((env, i) => quotes.push({ file, env, text: values[values.length === 1 ? 0 : i]! }));
  });
  // Prose wraps across lines.
  for (const m of text.replace(/\s+/g, ' ').matchAll(PROSE)) {
    quotes.push({ file, env: m[1]!, text: (m[2] ?? m[3] ?? m[4])! });
  }
  return quotes;
}

const MS_PER: Record<string, number> = {
  ms: 1,
  s: 1000,
  min: 60_000,
  h: 3_600_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** The quoted text as the setting's own value, or undefined when it says no value (see `NOT_VALUES`). */
function quotedValue(setting: Setting<unknown>, text: string): unknown {
  const plain = text.replace(/`/g, '');
  const kind = setting.kind;
  const number = /^(\d[\d,]*(?:\.\d+)?) ?(.*)$/.exec(plain);
  if (kind.name === 'duration' && number !== null) {
    const [, digits, unit] = number;
    const value = Number(digits!.replace(/,/g, ''));
    const unitName = unit === '' ? (kind.format(1).endsWith('µs') ? 'µs' : 'ms') : unit!;
    // Durations are kept in ms or µs (the kind's unit); the docs may quote them in any unit of time.
    const inMs = unitName === 'µs' ? value / 1000 : value * (MS_PER[unitName] ?? NaN);
    return kind.format(1).endsWith('µs') ? Math.round(inMs * 1000) : inMs;
  }
  if (kind.name === 'byte size' && number !== null)
    return parseByteSize(plain.replace(/,/g, '').replace(/ ?bytes$/, ''));
  if (kind.name === 'integer' && number !== null && number[2] === '')
    return Number(number[1]!.replace(/,/g, ''));
  return plain;
}

/** Second cells that point elsewhere instead of quoting a value. */
const NOT_VALUES = new Set(['(see configuration.md)', "half the broker's"]);

describe('defaults quoted in README.md and docs/', () => {
  const quotes = DOCS.flatMap(quotesIn);

  it('finds the quotes it checks (the patterns still match how the docs are written)', () => {
    const envs = new Set(quotes.map((q) => q.env));
    for (const env of ['FELIX_MAX_STREAMS_PER_CONN', 'FELIX_AUTH_TIMEOUT_MS', 'FELIX_DEDUP_MAX_PRODUCERS'])
      expect(envs, env).toContain(env);
    expect(quotes.length).toBeGreaterThan(30);
  });

  it('match the defaults of the settings catalogue', () => {
    const wrong: string[] = [];
    for (const q of quotes) {
      if (NOT_VALUES.has(q.text)) continue;
      const setting = settings.get(q.env);
      if (setting === undefined) {
        wrong.push(`${q.file}: ${q.env} is not a setting`);
        continue;
      }
      const expected = setting.default;
      const quoted = quotedValue(setting, q.text);
      const same =
        typeof quoted === 'string'
          ? quoted === setting.kind.format(expected as never)
          : quoted === expected || (expected === null && quoted === 'unset');
      if (!same)
        wrong.push(
          `${q.file}: ${q.env} quoted as "${q.text}", default ${setting.kind.format(expected as never)}`,
        );
    }
    expect(wrong).toEqual([]);
  });
});
