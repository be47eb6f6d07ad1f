// Where the perf pipeline reads and writes. Every script runs both from scripts/perf (tests, via vitest)
// and from dist/scripts/perf (npm scripts), so paths are anchored at the repository root, not the module.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepositoryRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    directory = parent;
  }
  return directory;
}

export const REPO_ROOT = findRepositoryRoot();

export const PATHS = {
  presets: join(REPO_ROOT, 'scripts', 'perf', 'presets.yml'),
  fastPresets: join(REPO_ROOT, 'scripts', 'perf', 'fast.yml'),
  latencydemoMain: join(REPO_ROOT, 'dist', 'latencydemo', 'main.js'),
  natsLatencyMain: join(REPO_ROOT, 'dist', 'scripts', 'perf', 'nats_latency.js'),
  rawDir: join(REPO_ROOT, 'data', 'raw'),
  latencyRunsJsonl: join(REPO_ROOT, 'data', 'raw', 'latency_demo_runs.jsonl'),
  peerRunsJsonl: join(REPO_ROOT, 'data', 'raw', 'peers_nats_runs.jsonl'),
  /** One folder per session: each attempt's stdout and stderr, named after the attempt. */
  runOutputsDir: join(REPO_ROOT, 'data', 'raw', 'runs'),
  derivedDir: join(REPO_ROOT, 'data', 'derived'),
  runsCsv: join(REPO_ROOT, 'data', 'derived', 'latency_demo_runs.csv'),
  aggCsv: join(REPO_ROOT, 'data', 'derived', 'latency_demo_agg.csv'),
  peersCsv: join(REPO_ROOT, 'data', 'derived', 'peers_nats.csv'),
  peersMarkdown: join(REPO_ROOT, 'data', 'derived', 'peers_nats.md'),
  chartsDir: join(REPO_ROOT, 'docs', 'assets', 'latencydemo'),
  chartIndex: join(REPO_ROOT, 'docs', 'assets', 'latencydemo', 'README.md'),
  benchmarksDoc: join(REPO_ROOT, 'docs', 'benchmarks.md'),
} as const;
