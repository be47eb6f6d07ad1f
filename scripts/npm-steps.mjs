// Runs the npm scripts that are several programs in a row (package.json: perf:*), passing the arguments
// given after `--` to the step they are meant for. Written as `a && b && c`, npm appends them to the last
// command only, so `npm run perf:fast -- --help` used to start a full run with `--help` handed to the
// report step. Here each pipeline names its argument step; when the arguments only ask for information
// (--help, or a flag that makes the step print instead of act, such as --dry-run), the steps after it are
// skipped, since they would act on data the informational call did not produce.
//
//   node scripts/npm-steps.mjs <pipeline> [arguments for its argument step…]
//
// Plain JavaScript, so it runs before the build it starts. Exit status: the first failing step's.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// Under `npm run`, npm names its own entry point: the same npm runs the build step.
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];

const build = { command: [...npm, 'run', 'build'] };
const node = (script, ...fixed) => ({
  command: [process.execPath, `dist/scripts/perf/${script}.js`, ...fixed],
});
const report = [node('normalize_and_aggregate'), node('make_charts'), node('render_markdown_snippets')];
const takingArgs = (step) => ({ ...step, takesArgs: true });

/** Flags after which a pipeline stops at its argument step. */
const HELP = ['--help', '-h'];

const PIPELINES = {
  'perf:latency-matrix': {
    steps: [build, takingArgs(node('run_latency_matrix')), ...report],
    stopOn: [...HELP, '--dry-run'],
  },
  'perf:fast': {
    steps: [build, takingArgs(node('run_latency_matrix', '--config', 'scripts/perf/fast.yml')), ...report],
    stopOn: [...HELP, '--dry-run'],
  },
  // Which session to aggregate is the choice a user makes; the chart and snippet steps follow its files.
  'perf:report': { steps: [takingArgs(report[0]), report[1], report[2]], stopOn: HELP },
  'perf:charts': { steps: [build, takingArgs(report[0]), report[1], report[2]], stopOn: HELP },
  // The NATS comparison, then the cache comparison (perf:cache-peers, run with its defaults).
  'perf:peers': {
    steps: [build, takingArgs(node('peers_nats')), node('cache_vs_redis')],
    stopOn: [...HELP, '--report-only'],
  },
};

const [name, ...args] = process.argv.slice(2);
const pipeline = PIPELINES[name];
if (pipeline === undefined) {
  process.stderr.write(
    `npm-steps: unknown pipeline ${JSON.stringify(name)}; known: ${Object.keys(PIPELINES).join(', ')}\n`,
  );
  process.exit(2);
}

// Arguments after a bare `--` belong to the step even if they look like a stop flag.
const ownArgs = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
const stopEarly = ownArgs.some((arg) => pipeline.stopOn.includes(arg.split('=')[0]));

for (const [index, step] of pipeline.steps.entries()) {
  const [command, ...fixed] = step.command;
  const result = spawnSync(command, [...fixed, ...(step.takesArgs ? args : [])], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.error !== undefined) {
    process.stderr.write(`npm-steps: cannot run ${command}: ${result.error.message}\n`);
    process.exit(1);
  }
  const status = result.status ?? 1;
  if (status !== 0) process.exit(status);
  if (step.takesArgs && stopEarly) {
    const skipped = pipeline.steps.slice(index + 1).map((later) => later.command.slice(1).join(' '));
    if (skipped.length > 0) {
      process.stderr.write(`\nnpm run ${name}: then runs ${skipped.join(', then ')} (skipped this time)\n`);
    }
    break;
  }
}
