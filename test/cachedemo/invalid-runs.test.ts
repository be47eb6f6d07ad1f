// cachedemo at large values: the values for many keys share one slab, and values too large for the
// broker's cache are an INVALID RUN said before anything is put, not after minutes of preparing and
// measuring. The program runs against a broker it starts; no timing is asserted.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cacheShortfall, entriesHeld } from '../../cachedemo/cache-fit.js';
import { payloadsPerKey } from '../../cachedemo/payload.js';
import { BENCH_OPS } from '../../cachedemo/settings.js';

const MiB = 1024 * 1024;

describe('cachedemo values', () => {
  it('are distinct per key yet views of one slab, not one buffer per key', () => {
    const size = 256 * 1024;
    const values = payloadsPerKey(size, 64);
    expect(values.every((v) => v.byteLength === size)).toBe(true);
    expect(new Set(values.map((v) => v.buffer)).size).toBe(1);
    expect(values[0]!.buffer.byteLength).toBeLessThanOrEqual(size + 64);
    for (let i = 1; i < values.length; i++) {
      expect(Buffer.from(values[i]!).equals(values[i - 1]!), `key ${i}`).toBe(false);
    }
    expect(payloadsPerKey(0, 3).map((v) => v.byteLength)).toEqual([0, 0, 0]);
  });
});

describe('cachedemo cache fit', () => {
  const settings = { keys: 1024, warmup: 500, samples: 2000, durationMs: null, ops: BENCH_OPS };

  it('counts the hit keys and the keys put writes before get_hit reads them', () => {
    expect(entriesHeld(settings, 1024)).toBe(1024 + 500 + 1024);
    expect(entriesHeld({ ...settings, ops: ['get_hit', 'get_miss'] }, 1024)).toBe(1024);
  });

  it('says when keys × payload cannot fit FELIX_CACHE_MAX_BYTES, and how many keys would', () => {
    const reason = cacheShortfall(MiB, settings, 256 * MiB);
    expect(reason).toMatch(
      /^1048576 B values: get_hit needs 2548 entries held at once \(1024 keys read, the rest written by put\), about 2\.5 GiB, more than the broker's FELIX_CACHE_MAX_BYTES 256\.0 MiB; not run \(--keys (\d+) or fewer fit/,
    );
    const fits = Number(/--keys (\d+) or fewer/.exec(reason!)![1]);
    expect(cacheShortfall(MiB, { ...settings, keys: fits }, 256 * MiB)).toBeUndefined();
    expect(cacheShortfall(MiB, { ...settings, keys: fits + 1 }, 256 * MiB)).toBeDefined();
    expect(cacheShortfall(4096, settings, 256 * MiB)).toBeUndefined();
    // Without get_hit nothing depends on the entries staying.
    expect(cacheShortfall(MiB, { ...settings, ops: ['put', 'get_miss'] }, 256 * MiB)).toBeUndefined();
  });
});

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const demo = fileURLToPath(new URL('../../dist/cachedemo/main.js', import.meta.url));
  // FELIX_* variables of the surrounding shell would change the broker's cache.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FELIX_')));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [demo, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (exit) => resolve({ code: exit, stdout: out, stderr: err }));
  });
}

describe('cachedemo program', () => {
  it('says up front that 1 MiB values for 1024 keys cannot fit the cache, runs the rest, exits 3', async () => {
    const { code, stdout, stderr } = await runDemo([
      ...['--payloads', '64,1048576', '--concurrency', '1', '--samples', '200', '--warmup', '20'],
      '--json',
    ]);
    expect(code, stderr).toBe(3);
    const lines = stderr.split('\n');
    const announced = lines.indexOf('Payload size: 1048576 bytes');
    expect(lines[announced + 1]).toMatch(/^INVALID RUN: 1048576 B values: get_hit needs 1244 entries/);
    const document = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      results: { op: string; payload_bytes: number; unexpected: number }[];
      invalid: string[];
    };
    expect(document.results.map((r) => [r.op, r.payload_bytes, r.unexpected])).toEqual([
      ['put', 64, 0],
      ['get_hit', 64, 0],
      ['get_miss', 64, 0],
    ]);
    expect(document.invalid).toEqual([expect.stringMatching(/^1048576 B values: get_hit needs/)]);
  });

  it("reports a value size above the broker's limit as an INVALID RUN in one line, and keeps the other sizes' results", async () => {
    const { code, stdout, stderr } = await runDemo([
      ...['--payloads', '64,5000000', '--ops', 'put', '--keys', '1', '--samples', '5', '--warmup', '1'],
      ...['--concurrency', '1', '--json'],
    ]);
    expect(code, stderr).toBe(3);
    expect(stderr).toMatch(
      /^INVALID RUN: 5000000 B values: refused, not measured: cache_put of key .* refused: cache value is 5000000 bytes; the limit is 4194304 \(FELIX_CACHE_MAX_VALUE_BYTES\)$/m,
    );
    expect(stderr).not.toMatch(/^\s+at /m);
    const document = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      results: { op: string; payload_bytes: number }[];
      invalid: string[];
    };
    expect(document.results.map((r) => [r.op, r.payload_bytes])).toEqual([['put', 64]]);
    expect(document.invalid).toEqual([expect.stringMatching(/^5000000 B values: refused, not measured:/)]);
  });

  it('says why get_hit missed when every put has a TTL shorter than the run', async () => {
    // A 1 ms TTL: the keys get_hit reads were put before its phase began, so they have expired.
    const { code, stdout, stderr } = await runDemo([
      ...['--payloads', '64', '--ops', 'put,get_hit', '--ttl-ms', '1', '--keys', '4'],
      ...['--samples', '50', '--warmup', '5', '--concurrency', '1', '--json'],
    ]);
    expect(code, stderr).toBe(3);
    const document = JSON.parse(stdout.trim().split('\n').at(-1)!) as { invalid: string[] };
    expect(document.invalid).toEqual([
      expect.stringMatching(
        /^get_hit 64 B: \d+ of 50 answers were not a hit \(every put had --ttl-ms 1: keys expire before the get_hit phase reads them; give a TTL longer than the run\)$/,
      ),
    ]);
  });
});
