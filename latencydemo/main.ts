#!/usr/bin/env node
/**
 * latencydemo: felix-ts's pub/sub latency and throughput benchmark, in the style of Felix's latency-demo.
 *
 *   node dist/latencydemo/main.js [--warmup N] [--total N] [--payload B] [--fanout N] [--batch N] [--binary]
 *       [--idle-ms MS] [--pub-conns N] [--pub-streams-per-conn N] [--pub-sharding hash_stream|rr]
 *       [--pub-stream-count N] [--sub-conns N] [--all | --matrix [--payloads CSV] [--fanouts CSV]]
 *       [--broker HOST:PORT] [--broker-node-flags FLAGS] [--json] [--progress]
 *   node dist/latencydemo/main.js --rate MSGS_PER_S [--duration S | --total N] [--warmup N] [--payload B]
 *       [--fanout N] [--matrix …] …        (open loop: latency from each message's scheduled send time)
 *
 * Exit status: 0, or 3 when a case is an INVALID RUN (the report is printed either way), 2 for a bad flag
 * or setting (a broker setting its broker refused included), 1 when a case could not run.
 */
import { CommanderError } from 'commander';
import { ConfigError, isFelixError } from '../client/index.js';
import { fanoutBatchConflict, felixVariables } from './broker-env.js';
import type { CaseReport } from './case-report.js';
import { planCases } from './cases.js';
import { demoRequest, parseFlags } from './cli.js';
import { exitOnError } from './exit-on-error.js';
import { ProgressLine } from './progress.js';
import { caseIntro, caseResults, formatJson, JSON_SCHEMA, textHeader } from './report.js';
import { runCase } from './run-case.js';
import { loadDemoSettings } from './settings.js';

const EXIT_INVALID_RUN = 3;

/** A case that could not run for a reason the message says in full. */
class CaseFailure extends Error {}
const EXIT_USAGE = 2;
// Once the report is out, whatever the SDK or a timer still holds must not keep the demo alive.
const EXIT_GRACE_MS = 2_000;

async function main(args: readonly string[]): Promise<number> {
  const env = process.env;
  let settings;
  let request;
  try {
    // Flags first: --help and --version answer even when a FELIX_* variable is bad.
    const flags = parseFlags(args);
    settings = loadDemoSettings(env);
    request = demoRequest(flags, settings.defaults);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
    if (error instanceof ConfigError) {
      process.stderr.write(`latencydemo: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  const warned = new Set<string>();
  const onWarning = (message: string): void => {
    if (warned.has(message)) return;
    warned.add(message);
    process.stderr.write(`latencydemo: ${message}\n`);
  };
  settings.warnings.forEach(onWarning);

  const cases = planCases(request);
  const replaced = request.broker === undefined ? fanoutBatchConflict(env, cases) : undefined;
  if (replaced !== undefined) {
    process.stderr.write(`latencydemo: ${replaced}\n`);
    return EXIT_USAGE;
  }
  const broker = request.broker ?? 'spawned';
  const text = !request.json;
  const progress = new ProgressLine(request.progress || process.stderr.isTTY === true);
  process.once('SIGINT', () => {
    progress.stop();
    process.exit(130);
  });
  // The header and each case's intro go out with its results: a case that could not run (exit 1) leaves
  // no report of itself on stdout, only its reason on stderr.
  let unwritten = text ? textHeader(broker, request.mode === 'all') : '';
  const reports: CaseReport[] = [];
  for (const [index, c] of cases.entries()) {
    if (text) unwritten += caseIntro(c);
    const report = await runCase(c, {
      env,
      externalBroker: request.broker,
      brokerNodeFlags: request.brokerNodeFlags,
      sendWindowBytes: settings.sendWindowBytes,
      progress,
      label: `[${index + 1}/${cases.length}]`,
      onWarning,
    }).catch((error: unknown) => {
      // The SDK's errors say what failed; a stack trace would only bury that.
      throw isFelixError(error) ? new CaseFailure(`case ${c.name} failed: ${error.message}`) : error;
    });
    reports.push(report);
    if (text) process.stdout.write(unwritten + caseResults(report));
    unwritten = '';
  }
  if (request.json) {
    process.stdout.write(
      formatJson({
        tool: 'latencydemo',
        schema: JSON_SCHEMA,
        broker,
        node: process.version,
        env: felixVariables(env),
        cases: reports,
      }) + '\n',
    );
  }
  return reports.every((r) => r.valid) ? 0 : EXIT_INVALID_RUN;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  },
  // A setting found bad only once used (an unusable --broker address, a broker setting its broker refused
  // with its own exit status 2): one line and exit 2, as at parse.
  (error: unknown) => exitOnError('latencydemo', error, (e) => e instanceof CaseFailure),
);
