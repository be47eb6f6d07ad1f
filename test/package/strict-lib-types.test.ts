// An application that type-checks its dependencies' declarations too (`skipLibCheck: false`) compiles
// against the SDK's types: what `felix-ts/client` ships reaches none of the transport's declarations, and
// so none of @matrixai/quic's, whose .d.ts do not compile against TypeScript's current lib. Checked against
// the built dist/ (npm test builds first), through a consumer project that links the repository as its
// `felix-ts` dependency.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { consumerTsconfig } from './consumer-project.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');
const project = mkdtempSync(join(tmpdir(), 'felix-strict-lib-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

function tsc(args: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TSC, ...args],
      { cwd: project, timeout: 120_000 },
      (error, stdout, stderr) => {
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
          output: stdout + stderr,
        });
      },
    );
  });
}

describe('the SDK types under skipLibCheck: false', () => {
  it('type-check a consumer of felix-ts/client, and reach no transport declaration', async () => {
    mkdirSync(join(project, 'node_modules/@types'), { recursive: true });
    symlinkSync(REPO, join(project, 'node_modules/felix-ts'), 'dir');
    symlinkSync(join(REPO, 'node_modules/@types/node'), join(project, 'node_modules/@types/node'), 'dir');
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    writeFileSync(join(project, 'tsconfig.json'), consumerTsconfig());
    // Every public type the README uses.
    writeFileSync(
      join(project, 'consumer.ts'),
      `import { connect, FelixError, isFelixError, type FelixClient, type FelixEvent, type Subscription,
  type StatusEvent, type GapInfo, type BatchProgress } from 'felix-ts/client';
const client: FelixClient = await connect({ broker: '127.0.0.1:5000', tenant: 't1', tokenProvider: () => 'x' });
await client.publish('orders', 'hello', { ack: 'per_message' });
await client.publishBatch('orders', ['a', new Uint8Array(1)]).catch((e: unknown) => {
  const progress: BatchProgress | undefined = isFelixError(e) ? e.batch : undefined;
  console.log(progress?.acked.length, e instanceof FelixError && e.retry);
});
const sub: Subscription = await client.subscribe('orders', {
  start: { offset: 0 },
  onGap: (gap: GapInfo) => console.log(gap.missed),
});
for await (const event of sub as AsyncIterable<FelixEvent>) console.log(event.offset, event.payload.length, sub.nextOffset);
for await (const s of client.status() as AsyncIterable<StatusEvent>) if (s.type === 'reconnecting') console.log(s.error?.code);
await client.cache.put('default', 'c', 'k', 'v', { ttlMs: 1000 });
console.log(await client.cache.get('default', 'c', 'k'), await client.closed);
await client.close();
`,
    );
    const result = await tsc(['-p', project, '--listFiles']);
    const errors = result.output.split('\n').filter((line) => line.includes('error TS'));
    expect(errors).toEqual([]);
    expect(result.code).toBe(0);
    const files = result.output.split('\n').filter((line) => line.includes('/dist/'));
    expect(files.some((f) => f.endsWith('/dist/client/index.d.ts'))).toBe(true);
    expect(files.filter((f) => f.includes('/dist/transport/') || f.includes('@matrixai'))).toEqual([]);
  }, 120_000);
});
