import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame } from '../../wire/index.js';

describe('FrameDecoder buffer hand-over', () => {
  it('hands a large split frame over (owned) and never writes into it again', () => {
    const got: { payload: Uint8Array; owned: boolean }[] = [];
    const decoder = new FrameDecoder(
      {
        onFrame: (_flags, payload, owned) => got.push({ payload, owned }),
        onError: (e) => {
          throw e;
        },
      },
      { retainBufferBytes: 1024 },
    );
    const big = randomBytes(10_000);
    const next = randomBytes(10_000);
    const stream = Buffer.concat([encodeFrame(0x04, big), encodeFrame(0x04, next)]);
    for (let i = 0; i < stream.length; i += 700) decoder.push(stream.subarray(i, i + 700));
    expect(got.map((g) => g.owned)).toEqual([true, true]);
    // The first frame's bytes are intact after the second frame was assembled.
    expect(Buffer.from(got[0]!.payload).equals(big)).toBe(true);
    expect(Buffer.from(got[1]!.payload).equals(next)).toBe(true);
  });

  it('lends small split frames and frames whole in one chunk (not owned)', () => {
    const owned: boolean[] = [];
    const decoder = new FrameDecoder({
      onFrame: (_f, _p, o) => owned.push(o),
      onError: (e) => {
        throw e;
      },
    });
    const small = encodeFrame(0, Buffer.from('{"type":"ok"}'));
    decoder.push(small);
    decoder.push(small.subarray(0, 5));
    decoder.push(small.subarray(5));
    expect(owned).toEqual([false, false]);
  });
});
