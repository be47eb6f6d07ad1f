/**
 * One payload size, as Felix's run_payload_suite: prepopulate the keys get_hit reads, check one value,
 * then warm up and measure each op. Every get_hit must hit and every get_miss must miss: a result
 * that does not (an entry evicted or expired under the benchmark, say) is counted, and makes the run
 * invalid.
 */
import type { CacheBackend } from './backend.js';
import { payloadsPerKey } from './payload.js';
import { BENCH_OPS, type BenchOp, type BenchSettings } from './settings.js';
import { felixLine, type BenchStats } from './stats.js';
import { keyNames, runOps, runOpsAtRate, type Operation } from './workload.js';

export interface OpResult {
  readonly op: BenchOp;
  readonly payload: number;
  readonly stats: BenchStats;
  /** get_hit answers that missed (or, with validateEach, differed); get_miss answers that hit. */
  readonly unexpected: number;
  /** CPU time this process spent per measured operation (user + system), microseconds. */
  readonly clientCpuUsPerOp: number;
  /** The same for the server process, when `serverCpuSeconds` was given. */
  readonly serverCpuUsPerOp: number | null;
}

/** Reads the server's total CPU seconds (its metrics, or Redis INFO): CPU per op, whatever the load. */
export type CpuReader = () => Promise<number>;

export async function runPayloadSuite(
  backend: CacheBackend,
  size: number,
  settings: BenchSettings,
  print: (line: string) => void,
  serverCpuSeconds?: CpuReader,
): Promise<OpResult[]> {
  const values = payloadsPerKey(size, settings.keys);
  const { ttlMs } = settings;
  const put: Operation = (i, key) => backend.put(key, values[i]!, ttlMs);
  const get: Operation = (_i, key) => backend.get(key);
  const hitKeys = keyNames('hit', size, settings.keys);
  const base = { concurrency: settings.concurrency, durationMs: null, record: false } as const;

  await runOps(put, { ...base, total: settings.keys, keys: hitKeys });
  const first = await backend.get(hitKeys[0]!);
  if (first === null || first === undefined) {
    // Evicted already (a cache too small for the keys): the get_hit rows will count the misses and make
    // the run an INVALID RUN, with its report, rather than end it here.
    print(
      `Validation: get_hit missed for payload_size=${size} (evicted: is the cache large enough for the keys?)`,
    );
  } else if (!Buffer.from(first).equals(values[0]!)) {
    throw new Error(`cache hit payload mismatch for payload_size=${size}`);
  } else print(`Validation: get_hit value_len=${first.byteLength} bytes`);

  const results: OpResult[] = [];
  const measure = async (
    op: BenchOp,
    operation: Operation,
    warmPrefix: string,
    prefix: string,
    expectHit?: boolean,
  ) => {
    await runOps(operation, {
      ...base,
      total: settings.warmup,
      keys: keyNames(warmPrefix, size, settings.keys),
    });
    let unexpected = 0;
    const check =
      expectHit === undefined
        ? undefined
        : (keyIndex: number, result: unknown) => {
            const hit = result !== null && result !== undefined;
            if (hit !== expectHit) unexpected++;
            else if (
              hit &&
              settings.validateEach &&
              !Buffer.from(result as Uint8Array).equals(values[keyIndex]!)
            ) {
              unexpected++;
            }
          };
    const serverBefore = await serverCpuSeconds?.();
    const clientBefore = process.cpuUsage();
    const measured = {
      total: settings.samples,
      durationMs: settings.durationMs,
      keys: keyNames(prefix, size, settings.keys),
      ...(check === undefined ? {} : { check }),
    };
    const stats =
      settings.rate === null
        ? await runOps(operation, { ...base, ...measured, record: true })
        : await runOpsAtRate(operation, { ...measured, rate: settings.rate });
    const clientCpu = process.cpuUsage(clientBefore);
    const serverAfter = await serverCpuSeconds?.();
    const n = stats!.count;
    results.push({
      op,
      payload: size,
      stats: stats!,
      unexpected,
      clientCpuUsPerOp: (clientCpu.user + clientCpu.system) / n,
      serverCpuUsPerOp:
        serverBefore === undefined || serverAfter === undefined
          ? null
          : ((serverAfter - serverBefore) * 1e6) / n,
    });
    print(felixLine(op, stats!));
  };

  // Felix's order, whatever order the list names them in.
  for (const op of BENCH_OPS.filter((o) => settings.ops.includes(o))) {
    if (op === 'put') await measure(op, put, 'put-warm', 'put');
    else if (op === 'get_hit') await measure(op, get, 'hit', 'hit', true);
    else await measure(op, get, 'miss-warm', 'miss', false);
  }
  return results;
}
