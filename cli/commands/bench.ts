/** `felix-ts bench latency|cache [flags]`: the latencydemo and cachedemo benchmark programs. */
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { addEntryProgramCommand } from '../entry-program.js';

const BENCH_HELP = `
Each runs its benchmark program with the flags given (they are the program's own: add --help to a
subcommand to list them). Without --broker the program starts a broker in its own process.

Examples:
  felix-ts bench latency --total 5000 --payload 256 --fanout 2
  felix-ts bench latency --broker 127.0.0.1:5000 --json
  felix-ts bench cache --broker 127.0.0.1:5000`;

export function registerBenchCommands(program: Command): void {
  const bench = program
    .command('bench')
    .description('benchmarks: pub/sub latency and throughput (latencydemo), cache put/get (cachedemo)')
    .addHelpText('after', BENCH_HELP);
  addEntryProgramCommand(
    bench,
    'latency',
    'pub/sub latency and throughput benchmark (latencydemo, also the felix-latencydemo bin)',
    {
      scriptPath: fileURLToPath(new URL('../../latencydemo/main.js', import.meta.url)),
      load: () => import('../../latencydemo/main.js'),
    },
  );
  addEntryProgramCommand(
    bench,
    'cache',
    'cache put/get benchmark and TTL check (cachedemo, also the felix-cachedemo bin)',
    {
      scriptPath: fileURLToPath(new URL('../../cachedemo/main.js', import.meta.url)),
      load: () => import('../../cachedemo/main.js'),
    },
  );
}
