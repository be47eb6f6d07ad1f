import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, WireError } from '../../wire/index.js';
import { MAX_MESSAGE_NESTING, jsonNestsDeeper } from '../../wire/nesting.js';

/** The depth of nested objects and arrays (empty ones count) in a parsed JSON value. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

/**
 * Strings that put brackets, quotes and backslashes where a scan that missed a string's end would count
 * them, short and long (a long one is searched differently).
 */
const trickyString = fc.oneof(
  fc.stringMatching(/^[[\]{}"\\a]{0,12}$/),
  fc.stringMatching(/^[[\]{}"\\a]{28,80}$/),
);

describe('JSON nesting scan', () => {
  it('agrees with the depth of any JSON text, whatever its strings hold', () => {
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        trickyString,
        fc.integer(),
        fc.constant(null),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(trickyString, tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, fc.constantFrom(0, 2), (v, indent) => {
        const text = Buffer.from(JSON.stringify(v, null, indent));
        const depth = depthOf(v);
        expect(jsonNestsDeeper(text, depth)).toBe(false);
        if (depth > 0) expect(jsonNestsDeeper(text, depth - 1)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('makes the decoder refuse text deeper than the limit before parsing it, and take it at the limit', () => {
    const message = (x: string): Buffer =>
      Buffer.from(`{"type":"cache_get","tenant_id":"t","namespace":"n","cache":"c","key":"k","x":${x}}`);
    const deep = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);
    for (const levels of [MAX_MESSAGE_NESTING, 1_000_000]) {
      let thrown: unknown;
      try {
        decodeMessage(0, message(deep(levels)));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(WireError);
      expect((thrown as WireError).message).toBe(`JSON nested deeper than ${MAX_MESSAGE_NESTING} levels`);
    }
    expect(decodeMessage(0, message(deep(MAX_MESSAGE_NESTING - 1)))).toMatchObject({
      type: 'cache_get',
      key: 'k',
    });
    // Brackets inside strings are text, not nesting.
    expect(decodeMessage(0, message(JSON.stringify('['.repeat(100) + '\\"{'.repeat(100))))).toMatchObject({
      key: 'k',
    });
  });
});
