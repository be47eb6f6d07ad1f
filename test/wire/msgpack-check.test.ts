import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeMessage, FLAG_MSGPACK, WireError } from '../../wire/index.js';
import { MAX_MESSAGE_NESTING } from '../../wire/nesting.js';
import { msgpackProblem } from '../../wire/msgpack-check.js';

/** The depth of nested maps and arrays (empty ones count) in a plain value, as the walk should find it. */
function depthOf(value: unknown): number {
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

describe('MessagePack nesting walk', () => {
  it('agrees with the depth of any value msgpackr packs', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.uint8Array({ maxLength: 300 }), (json, bin) => {
        const value = { json, bin, big: [bin, 2 ** 40, -(2 ** 40), 1.5, 'x'.repeat(300)] };
        const bytes = pack(value);
        const depth = depthOf(value);
        expect(msgpackProblem(bytes, depth)).toBeUndefined();
        if (depth > 0) expect(msgpackProblem(bytes, depth - 1)).toBe('too_deep');
      }),
      { numRuns: 500 },
    );
  });

  it('looks at the first value only and answers false for truncated input', () => {
    const deep = pack(nested(40));
    expect(msgpackProblem(Buffer.concat([pack(1), deep]), 4)).toBeUndefined();
    expect(msgpackProblem(deep.subarray(0, 3), 4)).toBeUndefined();
    expect(msgpackProblem(Buffer.from([0xdf, 0xff]), 0)).toBeUndefined();
  });

  it('makes the decoder refuse deep nesting the same way at any stack depth', () => {
    // Built by hand: msgpackr itself recurses when packing, so it cannot write 5,000 levels either.
    const deepValue = Buffer.concat([
      Buffer.alloc(5000 * 3, Buffer.from([0x81, 0xa1, 0x61])),
      Buffer.from([1]),
    ]);
    const head = pack({ type: 'cache_get', tenant_id: 't', namespace: 'n', cache: 'c', key: 'k' });
    // The same map with one more entry, x, holding the deep value.
    const message = Buffer.concat([Buffer.from([head[0]! + 1]), head.subarray(1), pack('x'), deepValue]);
    const decodeAt = (stackDepth: number): unknown => {
      if (stackDepth > 0) return decodeAt(stackDepth - 1);
      try {
        return decodeMessage(FLAG_MSGPACK, message);
      } catch (error) {
        return error;
      }
    };
    for (const stackDepth of [0, 1000, 5000]) {
      const error = decodeAt(stackDepth);
      expect(error).toBeInstanceOf(WireError);
      expect((error as WireError).message).toContain(`nested deeper than ${MAX_MESSAGE_NESTING}`);
    }
    // At the limit the message still decodes (unknown fields are ignored).
    const atLimit = pack({
      type: 'cache_get',
      tenant_id: 't',
      namespace: 'n',
      cache: 'c',
      key: 'k',
      x: nested(MAX_MESSAGE_NESTING - 1),
    });
    expect(decodeMessage(FLAG_MSGPACK, atLimit)).toMatchObject({ type: 'cache_get', key: 'k' });
  });
});
