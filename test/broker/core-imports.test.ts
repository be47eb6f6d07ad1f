// Issue 10: the broker's core (broker/core/) is its protocol engine on bytes. It imports nothing from the
// transport or its QUIC port, and no socket module; dependencies point one way (broker/quic → broker/core).
// eslint.config.js says the same to an editor; this holds it in CI, by reading every import of the folder.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CORE = join(ROOT, 'broker/core');
const FORBIDDEN_DIRS = ['transport', 'broker/quic'];
const FORBIDDEN_MODULES = ['node:dgram', 'dgram', 'node:net', 'net', '@matrixai/quic'];
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

it('broker/core imports nothing from transport/ or broker/quic/, and no socket module', () => {
  const files = sources(CORE);
  expect(files.length).toBeGreaterThan(10);
  const offending: string[] = [];
  let imports = 0;
  for (const file of files) {
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = match[1] ?? match[2]!;
      imports++;
      const target = spec.startsWith('.') ? relative(ROOT, resolve(dirname(file), spec)) : null;
      const forbidden =
        FORBIDDEN_MODULES.includes(spec) ||
        (target !== null && FORBIDDEN_DIRS.some((dir) => target === dir || target.startsWith(`${dir}/`)));
      if (forbidden) offending.push(`${relative(ROOT, file)}: ${spec}`);
    }
  }
  // The pattern does find imports (a scan that matched nothing would pass vacuously).
  expect(imports).toBeGreaterThan(files.length);
  expect(offending).toEqual([]);
});
