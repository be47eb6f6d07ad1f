import { describe, expect, it } from 'vitest';
import {
  encodeEventBatch,
  encodeFrame,
  encodeMessage,
  FrameDecoder,
  HEADER_BYTES,
  writeFrameHeader,
  type FrameDecoderOptions,
  type WireError,
} from '../../wire/index.js';
import { prng } from './helpers.js';
import { FULL_SAMPLES } from './samples.js';

interface Collected {
  frames: { flags: number; hex: string }[];
  errors: WireError[];
  decoder: FrameDecoder;
}

/** A decoder whose sink copies what it sees (payload views are only valid during the callback). */
function collect(options?: FrameDecoderOptions): Collected {
  const collected: Collected = { frames: [], errors: [], decoder: undefined as unknown as FrameDecoder };
  collected.decoder = new FrameDecoder(
    {
      onFrame: (flags, payload) =>
        collected.frames.push({ flags, hex: Buffer.from(payload).toString('hex') }),
      onError: (error) => collected.errors.push(error),
    },
    options,
  );
  return collected;
}

const frameWithLength = (flags: number, length: number, fill = 0x61) =>
  encodeFrame(flags, Buffer.alloc(length, fill));
const expected = (frames: Buffer[]) =>
  frames.map((frame) => ({ flags: frame.readUInt16BE(6), hex: frame.subarray(12).toString('hex') }));

const MIXED_FRAMES = [
  encodeMessage(FULL_SAMPLES.publish),
  encodeMessage(FULL_SAMPLES.event_batch, { msgpack: true }),
  encodeFrame(0, Buffer.alloc(0)),
  encodeEventBatch(1, [Buffer.from('x'), Buffer.alloc(300, 2)], 10),
  encodeMessage({ type: 'ok' }),
];
const MIXED = Buffer.concat(MIXED_FRAMES);

describe('FrameDecoder', () => {
  it('decodes many frames from one chunk', () => {
    const { frames, errors, decoder } = collect();
    decoder.push(MIXED);
    expect(errors).toEqual([]);
    expect(frames).toEqual(expected(MIXED_FRAMES));
  });

  it('decodes the stream split at every byte boundary', () => {
    for (let split = 0; split <= MIXED.length; split++) {
      const { frames, errors, decoder } = collect();
      decoder.push(MIXED.subarray(0, split));
      decoder.push(MIXED.subarray(split));
      expect(errors, `split at ${split}`).toEqual([]);
      expect(frames, `split at ${split}`).toEqual(expected(MIXED_FRAMES));
    }
  });

  it('decodes the stream fed one byte at a time and in random chunk sizes', () => {
    const random = prng(1);
    for (let round = 0; round < 50; round++) {
      const { frames, errors, decoder } = collect();
      let position = 0;
      while (position < MIXED.length) {
        const size = round === 0 ? 1 : 1 + Math.floor(random() * 64);
        decoder.push(MIXED.subarray(position, position + size));
        position += size;
      }
      expect(errors).toEqual([]);
      expect(frames, `round ${round}`).toEqual(expected(MIXED_FRAMES));
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it('copies only what it keeps: chunks may come from one scratch buffer reused by the caller', () => {
    const scratch = Buffer.alloc(37);
    const { frames, errors, decoder } = collect();
    for (let position = 0; position < MIXED.length; position += scratch.length) {
      const length = MIXED.copy(scratch, 0, position, position + scratch.length);
      decoder.push(scratch.subarray(0, length));
      scratch.fill(0xee); // the caller reuses its scratch as soon as push returns
    }
    expect(errors).toEqual([]);
    expect(frames).toEqual(expected(MIXED_FRAMES));
  });

  it('delivers a frame that lies whole inside the chunk as a view into the chunk (zero copy)', () => {
    const chunk = Buffer.concat([encodeMessage({ type: 'ok' }), encodeMessage({ type: 'ok' })]);
    const buffers: ArrayBufferLike[] = [];
    const decoder = new FrameDecoder({
      onFrame: (_flags, payload) => buffers.push(payload.buffer),
      onError: (error) => {
        throw error;
      },
    });
    decoder.push(chunk);
    expect(buffers).toEqual([chunk.buffer, chunk.buffer]);
    expect(decoder.bufferCapacity).toBe(0);
  });

  it('reuses its buffer for partial frames instead of allocating one per frame', () => {
    const frame = frameWithLength(0, 1000);
    const { frames, decoder } = collect();
    decoder.push(frame.subarray(0, 500));
    const capacity = decoder.bufferCapacity;
    expect(capacity).toBeGreaterThan(0);
    const seen = new Set<ArrayBufferLike>();
    const spy = new FrameDecoder({ onFrame: (_f, payload) => seen.add(payload.buffer), onError: () => {} });
    for (let i = 0; i < 20; i++) {
      spy.push(frame.subarray(0, 500));
      spy.push(frame.subarray(500));
    }
    expect(seen.size).toBe(1);
    decoder.push(frame.subarray(500));
    expect(frames).toHaveLength(1);
  });

  it('skips an oversized frame unbuffered with a typed error and decodes the next frame', () => {
    const big = frameWithLength(0, 5000);
    const next = encodeMessage({ type: 'ok' });
    const stream = Buffer.concat([big, next]);
    for (const chunkSize of [1, 7, 100, stream.length]) {
      const { frames, errors, decoder } = collect({ maxFrameBytes: 4096 });
      for (let position = 0; position < stream.length; position += chunkSize) {
        decoder.push(stream.subarray(position, position + chunkSize));
        if (position + chunkSize < big.length) expect(decoder.bufferCapacity).toBe(0);
      }
      expect(errors.map((error) => [error.code, error.fatal, error.frameLength])).toEqual([
        ['frame_too_large', false, 5000],
      ]);
      expect(frames).toEqual(expected([next]));
    }
  });

  it('accepts a frame of exactly maxFrameBytes', () => {
    const { frames, errors, decoder } = collect({ maxFrameBytes: 4096 });
    decoder.push(frameWithLength(0, 4096));
    expect(errors).toEqual([]);
    expect(frames).toHaveLength(1);
  });

  it('reports a frame too large as soon as its header arrives, before any payload', () => {
    const { errors, decoder } = collect();
    decoder.push(Buffer.from('464c5831000100000fffffff', 'hex'));
    expect(errors.map((error) => [error.code, error.frameLength])).toEqual([['frame_too_large', 0x0fffffff]]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('grows its buffer with the bytes that arrived, not with the length a header claims', () => {
    const { decoder } = collect();
    const header = Buffer.from('464c583100010000', 'hex');
    decoder.push(Buffer.concat([header, Buffer.from([0x00, 0xff, 0xff, 0xff]), Buffer.alloc(100)]));
    expect(decoder.bufferedBytes).toBe(100);
    expect(decoder.bufferCapacity).toBeLessThanOrEqual(4096);
  });

  it('with fullFrameAfter, assembles a large frame in one buffer of its length once that share arrived', () => {
    const length = 256 * 1024;
    const big = Buffer.alloc(HEADER_BYTES + length);
    writeFrameHeader(big, 0, 0, length);
    for (let i = 0; i < length; i++) big[HEADER_BYTES + i] = (i * 7) & 0xff;
    for (const [share, chunk, allocations] of [
      [1 / 8, 16 * 1024, 3], // two chunks' worth grown as they come, then the frame's 256 KiB (an eighth)
      [1 / 8, 64 * 1024, 1], // the first chunk is already an eighth
      [undefined, 16 * 1024, 6], // without it: doubling from 16 KiB, and once more for the last bytes
    ] as const) {
      const capacities = new Set<number>();
      let delivered: Buffer | undefined;
      let owned = false;
      const decoder = new FrameDecoder(
        {
          onFrame: (_flags, payload, handedOver) => {
            delivered = Buffer.from(payload);
            owned = handedOver;
          },
          onError: (error) => {
            throw error;
          },
        },
        { fullFrameAfter: share, maxFrameBytes: 1 << 20 },
      );
      for (let at = 0; at < big.length; at += chunk) {
        decoder.push(big.subarray(at, at + chunk));
        if (decoder.bufferCapacity > 0) capacities.add(decoder.bufferCapacity);
      }
      expect(capacities.size, `share ${share}, ${chunk}-byte chunks`).toBe(allocations);
      expect(delivered!.equals(big.subarray(HEADER_BYTES))).toBe(true);
      expect(owned).toBe(true);
    }
  });

  it('with fullFrameAfter 1/8, never holds more than 8× the bytes of a frame that arrived', () => {
    const decoder = new FrameDecoder({ onFrame: () => {}, onError: () => {} }, { fullFrameAfter: 1 / 8 });
    const header = Buffer.alloc(HEADER_BYTES);
    writeFrameHeader(header, 0, 0, 16 * 1024 * 1024 - 1);
    decoder.push(header);
    const random = prng(7);
    let received = 0;
    while (received < 4 * 1024 * 1024) {
      const size = 1 + Math.floor(random() * 70_000);
      decoder.push(Buffer.alloc(size));
      received += size;
      expect(decoder.bufferedBytes).toBe(received);
      expect(decoder.bufferCapacity).toBeLessThanOrEqual(Math.max(4096, 8 * received));
    }
  });

  it('after a large frame, goes on with the small buffer it had grown last, not an older one', () => {
    const { frames, decoder } = collect();
    const inChunks = (f: Buffer, chunk: number): void => {
      for (let at = 0; at < f.length; at += chunk) decoder.push(f.subarray(at, at + chunk));
    };
    inChunks(frameWithLength(0, 10_000), 5_000); // grows a small buffer
    inChunks(frameWithLength(0, 40_000), 5_000); // outgrows it: still small (under 64 KiB)
    const small = decoder.bufferCapacity;
    expect(small).toBeGreaterThanOrEqual(40_000);
    inChunks(frameWithLength(0, 200_000), 30_000); // a large frame in a buffer of its own
    expect(frames).toHaveLength(3);
    expect(decoder.bufferCapacity).toBe(small);
  });

  it('releases a buffer grown by a big frame once that frame is delivered', () => {
    const { frames, decoder } = collect({ retainBufferBytes: 8192 });
    const big = frameWithLength(0, 100_000);
    decoder.push(big.subarray(0, 50_000));
    expect(decoder.bufferCapacity).toBeGreaterThan(8192);
    decoder.push(big.subarray(50_000));
    expect(frames).toHaveLength(1);
    expect(decoder.bufferCapacity).toBe(0);
  });

  it.each([
    ['a bit above the known ones', 0x200],
    ['a high bit', 0x4000],
  ])('skips a frame with %s flags with a typed error and decodes the next', (_what, flags) => {
    const next = encodeMessage({ type: 'ok' });
    const stream = Buffer.concat([frameWithLength(flags, 20), next]);
    for (let split = 0; split <= stream.length; split++) {
      const { frames, errors, decoder } = collect();
      decoder.push(stream.subarray(0, split));
      decoder.push(stream.subarray(split));
      expect(errors.map((error) => [error.code, error.fatal, error.flags])).toEqual([
        ['unknown_flags', false, flags],
      ]);
      expect(frames).toEqual(expected([next]));
    }
  });

  it('can be told to accept fewer flags, e.g. a peer that did not negotiate MessagePack', () => {
    const { frames, errors, decoder } = collect({ knownFlags: 0x3f });
    decoder.push(encodeMessage({ type: 'ok' }, { msgpack: true }));
    expect(frames).toEqual([]);
    expect(errors.map((error) => error.code)).toEqual(['unknown_flags']);
  });

  it.each([
    ['bad magic', '464c5832000100000000000d', 'bad_magic'],
    ['bad version', '464c5831000200000000000d', 'bad_version'],
  ])('%s is fatal: reported once, all later input ignored', (_what, hex, code) => {
    const { frames, errors, decoder } = collect();
    decoder.push(Buffer.concat([encodeMessage({ type: 'ok' }), Buffer.from(hex, 'hex')]));
    decoder.push(encodeMessage({ type: 'ok' }));
    expect(frames).toHaveLength(1);
    expect(errors.map((error) => [error.code, error.fatal])).toEqual([[code, true]]);
    expect(decoder.failed).toBe(true);
    decoder.reset();
    decoder.push(encodeMessage({ type: 'ok' }));
    expect(frames).toHaveLength(2);
  });

  it('end() reports a stream that stops mid-frame, and nothing for one that stops between frames', () => {
    const frame = encodeMessage({ type: 'ok' });
    for (let cut = 0; cut <= frame.length; cut++) {
      const { errors, decoder } = collect();
      decoder.push(frame.subarray(0, cut));
      decoder.end();
      const mid = cut !== 0 && cut !== frame.length;
      expect(
        errors.map((error) => error.code),
        `cut at ${cut}`,
      ).toEqual(mid ? ['incomplete'] : []);
    }
  });

  it('refuses push() from inside its own callback', () => {
    const decoder: FrameDecoder = new FrameDecoder({
      onFrame: () => decoder.push(Buffer.alloc(1)),
      onError: () => {},
    });
    expect(() => decoder.push(encodeMessage({ type: 'ok' }))).toThrow(/inside a FrameSink callback/);
    expect(decoder.failed).toBe(true);
  });

  it('delivers an empty payload without buffering', () => {
    const { frames, decoder } = collect();
    decoder.push(encodeFrame(0x40, Buffer.alloc(0)));
    expect(frames).toEqual([{ flags: 0x40, hex: '' }]);
  });
});
