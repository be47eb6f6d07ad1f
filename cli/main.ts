#!/usr/bin/env node
/**
 * felix-ts: the package's command line (the `felix-ts` bin).
 *
 *   felix-ts auth keygen --out DIR [--kid ID] [--force]
 *   felix-ts auth mint --key FILE --tenant T --perm PERMISSION… [--ttl 1h] [--not-before D] [--issuer ISS]
 *       [--audience AUD] [--subject SUB] [--kid ID]
 *
 * Exit status: 0 success, 1 the command failed (the message says why), 2 bad arguments.
 */
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2));
