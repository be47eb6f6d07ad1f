#!/usr/bin/env -S node --max-semi-space-size=4
// The shebang's Node flags are the broker's (BROKER_NODE_FLAGS, broker/spawn.ts): `felix-ts broker` runs it in
// this process.
/**
 * felix-ts: the package's command line (the `felix-ts` bin). `felix-ts --help` lists the commands:
 *
 *   felix-ts broker [broker flags]                  the broker (as felix-broker / npm start)
 *   felix-ts pub <stream> [message|-]               publish (--count, --rate, --ack)
 *   felix-ts sub <stream> [--from P] [--count N]    print events with their offsets and gaps
 *   felix-ts cache get|put|del <cache> <key> …      the key-value cache (--ttl)
 *   felix-ts status                                 a broker's /metrics on one screen
 *   felix-ts bench latency|cache [demo flags]       latencydemo and cachedemo
 *   felix-ts auth keygen|mint                       development keys and tokens
 *
 * Exit status: 0 success, 1 the command failed (the message says why), 2 bad arguments.
 */
import { runCli } from './program.js';

// `felix-ts cache get … | head -c 10`: a reader that stops early closes the pipe; that ends the command
// quietly, as it does for other command-line tools, instead of an unhandled EPIPE and a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

const status = await runCli(process.argv.slice(2));
// `broker` and `bench` run another program in this process, which sets its own exit status (perhaps
// already, perhaps later); only a status nobody set yet is ours to set.
process.exitCode ??= status;
