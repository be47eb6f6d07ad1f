// The chained npm scripts (perf:*) run through scripts/npm-steps.mjs, which hands the arguments after
// `npm run … --` to the step they are for and stops after it when they only ask for help. npm itself is
// replaced by a stub that records its calls, so the build step costs nothing here.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const STEPS = join(REPO, 'scripts/npm-steps.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'felix-npm-steps-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function stubNpm(exitCode: number): string {
  const path = join(scratch, `npm-${exitCode}.cjs`);
  writeFileSync(
    path,
    `process.stdout.write('[stub npm ' + process.argv.slice(2).join(' ') + ']\\n');\nprocess.exit(${exitCode});\n`,
  );
  return path;
}

function steps(args: string[], npmExit = 0): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [STEPS, ...args],
      { cwd: REPO, timeout: 60_000, env: { ...process.env, npm_execpath: stubNpm(npmExit) } },
      (error, stdout, stderr) => {
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
          stdout,
          stderr,
        });
      },
    );
  });
}

describe('package.json', () => {
  it('runs every multi-step perf script through npm-steps.mjs, so `npm run X -- args` reaches it', () => {
    const { scripts } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const name of ['perf:latency-matrix', 'perf:fast', 'perf:charts', 'perf:report', 'perf:peers']) {
      expect(scripts[name]).toBe(`node scripts/npm-steps.mjs ${name}`);
    }
    // A script chaining steps with && would hand `-- args` to its last step only.
    const chainedToLast = Object.entries(scripts).filter(([, command]) => /&&.*&&|&& npm run/.test(command));
    expect(chainedToLast).toEqual([]);
  });
});

describe('npm run perf:fast -- --help', () => {
  it('builds, prints the matrix runner’s help and starts no run and no report', async () => {
    const run = await steps(['perf:fast', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\[stub npm run build\]\nUsage: run_latency_matrix/);
    expect(run.stdout).toContain('--dry-run');
    expect(run.stderr).toContain('then runs dist/scripts/perf/normalize_and_aggregate.js');
    expect(run.stderr).toContain('(skipped this time)');
  });

  it('passes other arguments to the matrix runner after the preset file (--dry-run lists the runs)', async () => {
    const run = await steps(['perf:fast', '--dry-run']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/# \d+ runs from scripts\/perf\/fast\.yml/);
    expect(run.stderr).toContain('(skipped this time)');
  });
});

describe('the other pipelines', () => {
  it.each([
    ['perf:latency-matrix', 'Usage: run_latency_matrix'],
    ['perf:report', 'Usage: normalize_and_aggregate'],
    ['perf:charts', 'Usage: normalize_and_aggregate'],
    ['perf:peers', 'Usage: peers_nats'],
  ])('%s -- --help prints its argument step’s help and stops there', async (name, usage) => {
    const run = await steps([name, '-h']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(usage);
    expect(run.stderr).toContain('(skipped this time)');
  });

  it('stops at the first failing step with its exit status', async () => {
    const run = await steps(['perf:fast', '--help'], 3);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('[stub npm run build]\n');
  });

  it('refuses an unknown pipeline', async () => {
    const run = await steps(['perf:nope']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown pipeline "perf:nope"');
  });
});
