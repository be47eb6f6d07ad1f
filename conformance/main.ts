#!/usr/bin/env node
// `npm run conformance -- --broker host:port [...]`: every promise of docs/protocol.md, checked
// against a running broker with transport/ and wire/ only (not the SDK), PASS/FAIL per check.
import { CommanderError } from 'commander';
import { ALL_CHECKS } from './checks/index.js';
import { parseArguments, type KitOptions } from './options.js';
import { jsonReporter, textReporter } from './report.js';
import { runChecks, selectChecks } from './runner.js';
import { BrokerLink, describeConnectFailure } from './link.js';

/** 0: every check passed; 1: some failed; 2: the kit could not run (arguments, TLS, no broker). */
async function main(argv: readonly string[]): Promise<number> {
  let options: KitOptions;
  try {
    options = parseArguments(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    process.stderr.write(`felix-conformance: ${(err as Error).message}\n`);
    return 2;
  }
  const checks = selectChecks(ALL_CHECKS, options.only);
  if (options.list) {
    for (const c of checks) process.stdout.write(`${c.name}\n`);
    return 0;
  }
  if (checks.length === 0) {
    process.stderr.write(`felix-conformance: no check matches --only ${options.only.join(',')}\n`);
    return 2;
  }
  const target = options.settings.target;
  try {
    const probe = await BrokerLink.open(target);
    await probe.close();
  } catch (err) {
    process.stderr.write(
      `felix-conformance: no broker at ${target.host}:${target.port}: ${describeConnectFailure(err)}\n`,
    );
    return 2;
  }
  const write = (line: string): void => void process.stdout.write(`${line}\n`);
  const reporter = options.json ? jsonReporter(write) : textReporter(write);
  const results = await runChecks(checks, options.settings, (r) => reporter.result(r));
  reporter.summary(results);
  return results.every((r) => r.passed) ? 0 : 1;
}

// Exit once stdout has taken the last line: a lingering handle must not keep a finished run alive.
const exit = (code: number): void => void process.stdout.write('', () => process.exit(code));
main(process.argv.slice(2)).then(exit, (err: unknown) => {
  process.stderr.write(`felix-conformance: ${(err as Error).stack ?? String(err)}\n`);
  exit(2);
});
