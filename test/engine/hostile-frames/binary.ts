/**
 * Binary publish batches (0x01, 0x09, stamped 0x81/0x89) whose counts and lengths lie: count bombs,
 * lengths past the end, trailing bytes, unknown ack bytes, request ids above 2^53 - 1, short stamps.
 */
import fc from 'fast-check';
import { bufferOf, frameOf, hostileFrame, type HostileFrame, type HostileTarget } from './frames.js';

/** A u16 name length: honest, or claiming more than follows. */
const arbNameLength = fc.oneof(
  { weight: 4, arbitrary: fc.constant(-1) },
  { weight: 1, arbitrary: fc.constantFrom(0xffff, 0x8000, 256, 300) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }).map((n) => -1 - n) }, // n more than follow
);

/**
 * Binary publish batches, acked or not, with and without the stamp block, with one or more of: a count
 * bomb (0xffffffff, 2^31, just above what the bytes left allow), payload lengths past the end, name
 * lengths past the end, trailing bytes, an unknown ack byte, a request id above 2^53 − 1, a stamp block
 * cut short, invalid UTF-8 in names.
 */
export function arbBinaryBatchBomb(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  return fc
    .record({
      acked: fc.boolean(),
      stamped: fc.boolean(),
      requestIdHigh: fc.oneof(
        { weight: 3, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.constantFrom(0x200000, 0xffffffff, 0x80000000) },
      ),
      requestIdLow: fc.integer({ min: 0, max: 0xffffffff }),
      ackByte: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(1, 2) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
      ),
      names: fc.array(
        fc.tuple(
          fc.constantFrom('t1', target.tenant, 'ns', 's', '', 'bad name!', '\u00ff'),
          arbNameLength,
          fc.boolean(),
        ),
        {
          minLength: 0,
          maxLength: 3,
        },
      ),
      count: fc.oneof(
        { weight: 2, arbitrary: fc.constant(-1) },
        { weight: 2, arbitrary: fc.constantFrom(0xffffffff, 0x80000000, 0x40000000, 0x10000) },
        { weight: 1, arbitrary: fc.integer({ min: -8, max: -2 }) }, // |n| - 1 more than honest
        { weight: 1, arbitrary: fc.nat({ max: 16 }) },
      ),
      items: fc.array(
        fc.tuple(
          fc.uint8Array({ maxLength: 24 }),
          fc.oneof(
            fc.constant(-1),
            fc.constantFrom(0xffffffff, 0x7fffffff, 1000),
            fc.integer({ min: -32, max: -2 }),
          ),
        ),
        { maxLength: 6 },
      ),
      trailing: fc.oneof(
        { weight: 3, arbitrary: fc.constant(new Uint8Array(0)) },
        { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 16 }) },
      ),
      stampBytes: fc.oneof(
        { weight: 3, arbitrary: fc.constant(8) },
        { weight: 1, arbitrary: fc.nat({ max: 7 }) },
      ),
      stamp: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 0xffffffffffffffffn })),
      cut: fc.oneof({ weight: 4, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat({ max: 64 }) }),
    })
    .map((r) => {
      const parts: Buffer[] = [];
      if (r.acked) {
        const head = Buffer.alloc(9);
        head.writeUInt32BE(r.requestIdHigh, 0);
        head.writeUInt32BE(r.requestIdLow, 4);
        head[8] = r.ackByte;
        parts.push(head);
      }
      // Three names are what the layout has; fewer or a lying length leaves the rest short.
      const names =
        r.names.length === 0
          ? [['t1', -1, false] as const, ['ns', -1, false] as const, ['s', -1, false] as const]
          : r.names;
      for (const [text, lie, invalidUtf8] of names) {
        const body = invalidUtf8
          ? Buffer.concat([Buffer.from(text), Buffer.of(0xc3, 0x28)])
          : Buffer.from(text);
        const length = Buffer.alloc(2);
        length.writeUInt16BE(
          lie === -1 ? body.length : lie < -1 ? Math.min(0xffff, body.length - 1 - lie) : lie,
        );
        parts.push(length, body);
      }
      const count = Buffer.alloc(4);
      count.writeUInt32BE(
        r.count === -1 ? r.items.length : r.count < -1 ? r.items.length - 1 - r.count : r.count,
      );
      parts.push(count);
      for (const [body, lie] of r.items) {
        const length = Buffer.alloc(4);
        length.writeUInt32BE(lie === -1 ? body.length : lie < -1 ? body.length - 1 - lie : lie);
        parts.push(length, bufferOf(body));
      }
      parts.push(bufferOf(r.trailing));
      if (r.stamped) {
        const stamp = Buffer.alloc(8);
        stamp.writeBigUInt64BE(r.stamp);
        parts.push(stamp.subarray(0, r.stampBytes));
      }
      let payload = Buffer.concat(parts);
      if (r.cut >= 0) payload = payload.subarray(0, Math.min(payload.length, r.cut));
      const flags = 0x01 | (r.acked ? 0x08 : 0) | (r.stamped ? 0x80 : 0);
      return hostileFrame('binary-bomb', frameOf(flags, payload));
    });
}
