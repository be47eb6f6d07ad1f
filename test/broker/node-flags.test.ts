// The broker's Node flags (BROKER_NODE_FLAGS: a 4 MiB young generation, which bounds what a datagram flood
// leaves behind — issue 11) reach it however it is started: spawned (latencydemo, cachedemo, slowdemo),
// `npm start`, and the `felix-broker` and `felix-ts` bins, whose shebang carries them.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { BROKER_NODE_FLAGS } from '../../broker/spawn.js';

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

it('npm start and both bins run the broker with BROKER_NODE_FLAGS', () => {
  expect(BROKER_NODE_FLAGS.length).toBeGreaterThan(0);
  const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start!;
  const shebangs = ['broker/main.ts', 'cli/main.ts'].map((file) => read(file).split('\n', 1)[0]!);
  for (const shebang of shebangs) expect(shebang.startsWith('#!/usr/bin/env -S node ')).toBe(true);
  for (const flag of BROKER_NODE_FLAGS) {
    expect(start.split(' ')).toContain(flag);
    for (const shebang of shebangs) expect(shebang.split(' ')).toContain(flag);
  }
});
