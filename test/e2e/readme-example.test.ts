import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { spawnBroker } from './broker-process.js';

const run = promisify(execFile);
const EXAMPLE = fileURLToPath(new URL('../../examples/hello.mjs', import.meta.url));

describe('the README example', () => {
  it('is the same script as examples/hello.mjs', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
    expect(readme).toContain(readFileSync(EXAMPLE, 'utf8').trim());
  });

  it('publishes and receives a message against a broker started as users start it', async () => {
    const broker = await spawnBroker();
    const { stdout } = await run(process.execPath, [EXAMPLE, `127.0.0.1:${broker.quicPort}`], {
      timeout: 20_000,
    });
    expect(stdout.trim()).toBe('received "hello, felix" at offset 0');
  });
});
