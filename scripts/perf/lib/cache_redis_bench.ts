#!/usr/bin/env node
/**
 * cachedemo's workload against Redis through ioredis: the same settings (FELIX_CACHE_BENCH_* and flags),
 * keys, values, warm-up and measurement (cachedemo/suite.ts), and the same JSON document, so
 * scripts/perf/cache_vs_redis.ts compares like with like. One ioredis connection; auto-pipelining off
 * (ioredis' default: each command is written when issued) unless --auto-pipelining.
 */
import { loadavg } from 'node:os';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import type { CacheBackend } from '../../../cachedemo/backend.js';
import { invalidRows, jsonRows, resultTable } from '../../../cachedemo/report.js';
import { progressPrinter, runMain, settingsOrComplain } from '../../../cachedemo/cli.js';
import { addBenchFlags } from '../../../cachedemo/settings.js';
import { runPayloadSuite, type OpResult } from '../../../cachedemo/suite.js';

class RedisBackend implements CacheBackend {
  readonly name = 'redis';

  constructor(private readonly redis: Redis) {}

  put(key: string, value: Uint8Array, ttlMs: number | null): Promise<unknown> {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return ttlMs === null ? this.redis.set(key, bytes) : this.redis.set(key, bytes, 'PX', ttlMs);
  }

  get(key: string): Promise<Buffer | null> {
    return this.redis.getBuffer(key);
  }
}

/** redis-server's CPU time so far (INFO cpu: used_cpu_user + used_cpu_sys). */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

async function main(): Promise<number> {
  const program = addBenchFlags(
    new Command('cache_redis_bench').description("cachedemo's workload against Redis"),
  )
    .requiredOption('--redis-port <port>', 'port of redis-server on 127.0.0.1')
    .option('--auto-pipelining', "ioredis' enableAutoPipelining (off by default)")
    .option('--json', 'print one JSON document on stdout (progress goes to stderr)');
  program.parse(process.argv);
  const flags = program.opts<{ redisPort: string; autoPipelining?: boolean; json?: boolean }>();
  const settings = settingsOrComplain('cache_redis_bench', flags);
  if (settings === null) return 2;
  const json = flags.json === true;
  const print = progressPrinter(json);
  const autoPipelining = flags.autoPipelining === true;
  const loadBefore = loadavg()[0]!;
  const redis = new Redis({
    host: '127.0.0.1',
    port: Number(flags.redisPort),
    enableAutoPipelining: autoPipelining,
  });
  try {
    await redis.ping();
    print(`redis 127.0.0.1:${flags.redisPort} via ioredis, auto-pipelining ${autoPipelining ? 'on' : 'off'}`);
    const backend = new RedisBackend(redis);
    const results: OpResult[] = [];
    for (const size of settings.payloads) {
      print(`Payload size: ${size} bytes`);
      results.push(...(await runPayloadSuite(backend, size, settings, print, () => redisCpuSeconds(redis))));
    }
    const invalid = invalidRows(results);
    print(resultTable(results));
    for (const row of invalid) print(`INVALID RUN: ${row}`);
    if (json) {
      const document = {
        settings,
        auto_pipelining: autoPipelining,
        load_avg_1m: { before: loadBefore, after: loadavg()[0] },
        results: jsonRows(results),
        invalid,
      };
      process.stdout.write(`${JSON.stringify(document)}\n`);
    }
    return invalid.length === 0 ? 0 : 3;
  } finally {
    redis.disconnect();
  }
}

runMain('cache_redis_bench', main);
