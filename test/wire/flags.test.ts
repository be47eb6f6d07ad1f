import { describe, expect, it } from 'vitest';
import {
  FEATURE_CACHE_DELETE,
  FEATURE_DRAINING,
  FEATURE_DROP_NOTICE,
  FEATURE_IDEMPOTENT_PUBLISH,
  FEATURE_PUBLISH_CHUNK,
  FLAG_BINARY_PUBLISH_PRODUCER,
  FLAG_MSGPACK,
  FLAG_TIMINGS,
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  negotiateFlags,
  ORIGINAL_V1_FLAGS,
  payloadLayout,
  supportsFeature,
  WireError,
} from '../../wire/index.js';

describe('flags', () => {
  it('has Felix values for Felix flags, and knows MSGPACK, TIMINGS and PRODUCER', () => {
    expect(KNOWN_FLAGS).toBe(0x1ff);
    expect(ORIGINAL_V1_FLAGS).toBe(0x07);
    expect(FLAG_TIMINGS).toBe(0x80);
    expect(FLAG_BINARY_PUBLISH_PRODUCER).toBe(0x100);
  });

  it('maps exactly the layouts Felix defines plus MessagePack and TIMINGS batches; every other combination is a typed error', () => {
    const layouts = new Map<number, string>();
    for (let flags = 0; flags <= 0x3ff; flags++) {
      try {
        layouts.set(flags, payloadLayout(flags));
      } catch (error) {
        expect(error).toBeInstanceOf(WireError);
        expect((error as WireError).code).toBe(flags & ~KNOWN_FLAGS ? 'unknown_flags' : 'invalid_flags');
      }
    }
    expect(Object.fromEntries(layouts)).toEqual({
      0x00: 'json',
      0x40: 'msgpack',
      0x01: 'binary_publish_batch',
      0x09: 'binary_acked_publish_batch',
      0x10: 'binary_publish_ack',
      0x02: 'binary_event_batch',
      0x22: 'binary_event_batch',
      0x04: 'binary_shared_event_batch',
      0x24: 'binary_shared_event_batch',
      // TIMINGS appends a stamp block to binary publish and event batches, and to nothing else.
      0x81: 'binary_publish_batch',
      0x89: 'binary_acked_publish_batch',
      // PRODUCER only on an acked publish batch, with or without TIMINGS.
      0x109: 'binary_acked_publish_batch',
      0x189: 'binary_acked_publish_batch',
      0x82: 'binary_event_batch',
      0xa2: 'binary_event_batch',
      0x84: 'binary_shared_event_batch',
      0xa4: 'binary_shared_event_batch',
    });
  });

  it('negotiates what both sides support, and only the original bits with a peer that predates negotiation', () => {
    // The vector's point: use the advertised value (25 = 0x19), not our own set.
    expect(negotiateFlags(25)).toBe(0x19);
    expect(negotiateFlags(undefined)).toBe(ORIGINAL_V1_FLAGS);
    expect(negotiateFlags(KNOWN_FLAGS, ORIGINAL_V1_FLAGS | FLAG_MSGPACK)).toBe(0x47);
    expect(negotiateFlags(0xffff)).toBe(0x1ff);
    expect(negotiateFlags(0xffff, KNOWN_FLAGS & ~FLAG_TIMINGS) & FLAG_TIMINGS).toBe(0);
  });

  it('handles feature bit 31 despite signed bitwise arithmetic', () => {
    expect(supportsFeature(KNOWN_FEATURES, FEATURE_PUBLISH_CHUNK)).toBe(true);
    expect(supportsFeature(FEATURE_PUBLISH_CHUNK, FEATURE_PUBLISH_CHUNK | FEATURE_CACHE_DELETE)).toBe(false);
    expect(KNOWN_FEATURES).toBeGreaterThan(0);
  });

  it('places the felix-ts feature bits at the top of the range, away from Felix’s', () => {
    expect(FEATURE_IDEMPOTENT_PUBLISH).toBe(0x4000_0000);
    expect(FEATURE_DRAINING).toBe(0x2000_0000);
    expect(FEATURE_DROP_NOTICE).toBe(0x1000_0000);
    expect(
      supportsFeature(KNOWN_FEATURES, FEATURE_IDEMPOTENT_PUBLISH | FEATURE_DRAINING | FEATURE_DROP_NOTICE),
    ).toBe(true);
    expect(KNOWN_FEATURES >>> 0).toBe(0xf000_0805);
  });
});
