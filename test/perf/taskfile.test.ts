// `task` (go-task) cannot be installed on the project's machines, so Taskfile.yml is checked here: valid
// YAML in go-task v3's shape, and every task a call of an npm script that package.json has.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../scripts/perf/paths.js';

interface Taskfile {
  version: string;
  tasks: Record<string, { desc?: string; cmds: string[] }>;
}

const taskfile = parse(readFileSync(join(REPO_ROOT, 'Taskfile.yml'), 'utf8')) as Taskfile;
const scripts = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;

describe('Taskfile.yml', () => {
  it('is go-task v3 with the project tasks', () => {
    expect(taskfile.version).toBe('3');
    expect(Object.keys(taskfile.tasks)).toEqual([
      'build',
      'test',
      'lint',
      'fmt',
      'broker',
      'demo:latency',
      'demo:cache',
      'perf:latency-matrix',
      'perf:fast',
      'perf:charts',
      'perf:peers',
    ]);
  });

  it('runs only npm scripts that package.json defines', () => {
    for (const [name, task] of Object.entries(taskfile.tasks)) {
      expect(task.cmds.length, name).toBeGreaterThan(0);
      for (const cmd of task.cmds) {
        const script = /^npm run ([\w:.-]+)(?: -- \{\{\.CLI_ARGS\}\})?$/.exec(cmd)?.[1];
        expect(script, `${name}: ${cmd}`).toBeDefined();
        expect(scripts, `${name} calls npm run ${script}`).toHaveProperty([script!]);
      }
    }
  });

  it('names each perf task after the npm script it runs', () => {
    for (const [name, task] of Object.entries(taskfile.tasks)) {
      if (name.startsWith('perf:') || name.startsWith('demo:'))
        expect(task.cmds[0]).toMatch(`npm run ${name}`);
    }
  });
});
