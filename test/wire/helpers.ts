/** Helpers shared by the wire suites. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { WireError, type WireErrorCode } from '../../wire/index.js';

/** The Felix vectors, in shared/ beside the repository (as in CI). */
export const VECTORS_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../../shared/felix-wire-vectors',
);

/** Runs `action`, which must throw a WireError with `code`; returns it for further checks. */
export function expectWireError(action: () => unknown, code: WireErrorCode): WireError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(WireError);
    expect((error as WireError).code).toBe(code);
    return error as WireError;
  }
  throw new Error(`expected a WireError ${code}, but nothing was thrown`);
}

/** Deterministic PRNG (mulberry32): a failing random case reproduces from its seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Byte fields compared by content whatever their class (Buffer vs Uint8Array). */
export function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, normalize(inner)]));
  }
  return value;
}
