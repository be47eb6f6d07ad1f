// Child process: connects to a benchmark server, runs one workload and prints one JSON line,
// {"ok":true,"result":{...},"otherBusy":0.01} or {"ok":false,"error":"..."}.
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadStack, type StackName } from './channel.js';
import { cpuMicros } from './protocol.js';
import { otherBusyFraction, readCpuTimes } from './quiet.js';
import { runWorkload, type WorkloadResult, type WorkloadSpec } from './workloads.js';

export interface ClientArgs {
  readonly stack: StackName;
  readonly port: number;
  readonly udpPayload: number;
  readonly workload: WorkloadSpec;
}

export type ClientReport =
  | {
      ok: true;
      result: WorkloadResult;
      /** Fraction of all CPUs other processes used during the workload (null: not measurable here). */
      otherBusy: number | null;
    }
  | { ok: false; error: string };

const args = JSON.parse(process.argv[2] ?? '{}') as ClientArgs;
let report: ClientReport;
try {
  const stack = await loadStack(args.stack);
  const session = await stack.connect({ port: args.port, udpPayload: args.udpPayload });
  const machineBefore = readCpuTimes();
  const cpuBefore = cpuMicros();
  const startedAt = performance.now();
  const result = await runWorkload(session.channel, args.workload);
  const ownCpuSeconds = (cpuMicros() - cpuBefore) / 1e6 + result.serverCpuSeconds;
  const wallSeconds = (performance.now() - startedAt) / 1000;
  const otherBusy = otherBusyFraction(
    machineBefore,
    readCpuTimes(),
    ownCpuSeconds,
    wallSeconds,
    availableParallelism(),
  );
  report = { ok: true, result, otherBusy };
  // Close properly so the server forgets the connection, but never wait long for it.
  await Promise.race([session.close().catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
} catch (err) {
  report = { ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}
process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
