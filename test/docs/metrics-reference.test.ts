// docs/metrics.md is the reference of every series on /metrics. The series come from several places (the
// broker's registry, prom-client's defaults, the storage and idle-memory families), so the page is checked
// against what a running broker exports: a new series without a row, a row for a series that is gone, or
// a row with the wrong type or labels fails here.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheus, { type Family } from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { catalogueEntries } from '../../config/catalogue.js';
import { spawnBroker } from '../e2e/broker-process.js';

const REFERENCE = 'docs/metrics.md';

interface Row {
  readonly type: string;
  readonly labels: readonly string[];
}

/** The reference's rows: `| \`felix_x\` | type | labels | unit | meaning |`. */
function referenceRows(): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const line of readFileSync(REFERENCE, 'utf8').split('\n')) {
    const cells = /^\| `(felix_[a-z0-9_]+)` +\| *([a-z]+) *\| *([^|]*?) *\|/.exec(line);
    if (cells === null) continue;
    const [, name, type, labels] = cells;
    expect(rows.has(name!), `${name} has two rows`).toBe(false);
    rows.set(name!, { type: type!, labels: [...labels!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!).sort() });
  }
  return rows;
}

/** Every series a broker exports with every optional family on: timings, durable storage, idle return. */
async function scrapeEverything(): Promise<Family[]> {
  const broker = await spawnBroker({
    FELIX_DISABLE_TIMINGS: '0',
    FELIX_DURABLE_STORAGE_DIR: mkdtempSync(join(tmpdir(), 'felix-metrics-doc-')),
    FELIX_IDLE_MEMORY_RETURN_MS: '10000',
  });
  const res = await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`);
  return parsePrometheus(await res.text());
}

/** Label names a family's samples carry (a histogram's `le` is its buckets, not a label). */
function labelNames(family: Family): string[] {
  return [...new Set(family.metrics.flatMap((s) => Object.keys(s.labels ?? {})))].sort();
}

describe(REFERENCE, () => {
  it('documents every series the broker exports, with its type and labels, and no other', async () => {
    const families = await scrapeEverything();
    const rows = referenceRows();
    const exported = families.map((f) => f.name).sort();
    expect(
      exported.filter((name) => !rows.has(name)),
      'exported, missing from the page',
    ).toEqual([]);
    expect(
      [...rows.keys()].filter((name) => !exported.includes(name)),
      'on the page, not exported',
    ).toEqual([]);
    for (const family of families) {
      const row = rows.get(family.name)!;
      expect(row.type, family.name).toBe(family.type.toLowerCase());
      // A labelled family with no sample yet (no disconnect so far) has no label to compare; nor has a
      // labelled histogram before its first observation (no GC yet), which exports an unlabelled sum and
      // count only.
      const names = labelNames(family);
      const unobserved = family.metrics.length === 0 || (names.length === 0 && family.type === 'HISTOGRAM');
      if (!unobserved) expect(row.labels, family.name).toEqual(names);
    }
  });

  it('is where the other docs take their series names from: they name none it lacks', () => {
    const documented = referenceRows();
    // configuration.md links each setting by its anchor, felix_<setting>; benchmarks.md records past runs.
    const anchors = new Set(catalogueEntries().map((e) => e.setting.env.toLowerCase()));
    const docs = ['README.md', ...readdirSync('docs').map((f) => `docs/${f}`)].filter(
      (path) => path.endsWith('.md') && path !== REFERENCE && path !== 'docs/benchmarks.md',
    );
    // `felix_storage_*` names a family: some series must start so.
    const known = (name: string): boolean =>
      name.endsWith('*')
        ? [...documented.keys()].some((series) => series.startsWith(name.slice(0, -1)))
        : anchors.has(name) || documented.has(name);
    const unknown = docs.flatMap((path) =>
      [...readFileSync(path, 'utf8').matchAll(/\bfelix_[a-z0-9_]+\*?/g)]
        .map((m) => m[0])
        .filter((name) => !known(name))
        .map((name) => `${path}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });
});
