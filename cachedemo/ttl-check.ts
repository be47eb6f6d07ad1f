/**
 * Felix's run_ttl_check: put "cached" under demo-key with a 500 ms TTL, read it (must hit), wait 650 ms,
 * read again (must miss). Felix only prints the two answers; here the outcome is PASS or FAIL.
 */
import type { CacheBackend } from './backend.js';

const TTL_MS = 500;
const WAIT_MS = 650;

export interface TtlCheck {
  readonly passed: boolean;
  readonly before: string;
  readonly after: string;
}

export async function runTtlCheck(backend: CacheBackend, print: (line: string) => void): Promise<TtlCheck> {
  await backend.put('demo-key', Buffer.from('cached'), TTL_MS);
  const before = describe(await backend.get('demo-key'));
  print(`Cache get response: ${before}`);
  await new Promise((resolve) => setTimeout(resolve, WAIT_MS));
  const after = describe(await backend.get('demo-key'));
  print(`Cache get after TTL: ${after}`);
  const passed = before === describe(Buffer.from('cached')) && after === describe(undefined);
  print(`TTL check: ${passed ? 'PASS' : 'FAIL'}`);
  return { passed, before, after };
}

function describe(value: Uint8Array | null | undefined): string {
  return value === null || value === undefined
    ? 'CacheValue { value: None }'
    : `CacheValue { value: ${JSON.stringify(Buffer.from(value).toString('utf8'))} }`;
}
