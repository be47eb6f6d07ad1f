/**
 * Decoder fuzzing with a seeded PRNG: every input must come out as valid messages or typed WireErrors,
 * never another exception and never a hang. A failure names its seed and case so it reproduces.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  decodeFramePayload,
  decodeJsonMessage,
  decodeMessage,
  decodeMsgpackMessage,
  type DecodedFrame,
  encodeBinaryPublishAck,
  encodeBinaryPublishBatch,
  encodeEventBatch,
  encodeJsonText,
  encodeMessage,
  encodeSharedEventBatch,
  FrameDecoder,
  MESSAGE_TYPES,
  WireError,
} from '../../wire/index.js';
import { normalize, prng, VECTORS_DIR } from './helpers.js';
import { ALL_SAMPLES } from './samples.js';

const SEED_FRAMES: Buffer[] = [
  ...ALL_SAMPLES.map((message) => encodeMessage(message)),
  ...ALL_SAMPLES.map((message) => encodeMessage(message, { msgpack: true })),
  encodeBinaryPublishBatch({
    tenant_id: 't',
    namespace: 'n',
    stream: 's',
    payloads: [Buffer.from('ab'), Buffer.alloc(0)],
  }),
  encodeBinaryPublishBatch({
    tenant_id: 't',
    namespace: 'n',
    stream: 's',
    payloads: [Buffer.from('x')],
    request_id: 3,
    ack: 'per_message',
  }),
  encodeBinaryPublishAck({ type: 'publish_error', request_id: 4, message: 'bad' }),
  encodeBinaryPublishAck({ type: 'publish_ok', request_id: 4 }),
  encodeEventBatch(9, [Buffer.from('e1'), Buffer.from('e22')]),
  encodeEventBatch(9, [Buffer.from('e1')], 77),
  encodeSharedEventBatch([Buffer.from('s'), Buffer.alloc(3)]),
  encodeSharedEventBatch([Buffer.from('s')], 5),
  ...readdirSync(VECTORS_DIR)
    .filter((file) => file.endsWith('.hex'))
    .map((file) => Buffer.from(readFileSync(join(VECTORS_DIR, file), 'utf8').trim(), 'hex')),
];
const INTERESTING_FLAGS = [0, 0x40, 0x01, 0x09, 0x10, 0x02, 0x22, 0x04, 0x24, 0x08, 0x20, 0x41, 0x80, 0xffff];

/** A decoded result must be something the codecs can write back and read again unchanged. */
function assertValid(result: DecodedFrame): void {
  if (result.type === 'binary_event_batch') {
    for (const payload of result.payloads) expect(payload).toBeInstanceOf(Uint8Array);
    for (const id of [result.subscription_id, result.base_offset]) {
      if (id !== undefined) expect(Number.isSafeInteger(id) && id >= 0).toBe(true);
    }
    return;
  }
  expect(MESSAGE_TYPES).toContain(result.type);
  for (const msgpack of [false, true]) {
    const frame = encodeMessage(result, { msgpack });
    expect(normalize(decodeMessage(frame.readUInt16BE(6), frame.subarray(12)))).toEqual(normalize(result));
  }
}

/** Runs `action`; a WireError is an acceptable outcome, anything else fails the test with the case. */
function expectOnlyWireErrors(label: string, action: () => void): void {
  try {
    action();
  } catch (error) {
    if (!(error instanceof WireError)) {
      throw new Error(`${label}: ${(error as Error)?.stack ?? String(error)}`);
    }
  }
}

function mutate(random: () => number, frame: Buffer): Buffer {
  const pick = (n: number) => Math.floor(random() * n);
  const bytes = Buffer.from(frame);
  switch (pick(9)) {
    case 0: // flip bits in the payload
      for (let i = pick(8) + 1; i > 0 && bytes.length > 12; i--)
        bytes[12 + pick(bytes.length - 12)] ^= 1 << pick(8);
      return bytes;
    case 1: // flip bits anywhere, header included
      for (let i = pick(4) + 1; i > 0; i--) bytes[pick(bytes.length)] ^= 1 << pick(8);
      return bytes;
    case 2: // truncate the payload, keeping the header's length (the frame then swallows what follows)
      return bytes.subarray(0, 12 + pick(Math.max(1, bytes.length - 12)));
    case 3: // lie about the length
      bytes.writeUInt32BE(pick(4) === 0 ? 0xffff_ffff : Math.max(0, bytes.length - 12 + pick(9) - 4), 8);
      return bytes;
    case 4: // another layout's flags on this payload
      bytes.writeUInt16BE(INTERESTING_FLAGS[pick(INTERESTING_FLAGS.length)], 6);
      return bytes;
    case 5: // a hostile u32 somewhere in the payload
      if (bytes.length >= 16)
        bytes.writeUInt32BE(pick(2) === 0 ? 0xffff_ffff : pick(1 << 20), 12 + pick(bytes.length - 15));
      return bytes;
    case 6: {
      // random payload under a valid header
      const payload = Buffer.alloc(pick(64));
      for (let i = 0; i < payload.length; i++) payload[i] = pick(256);
      const header = Buffer.from(frame.subarray(0, 12));
      header.writeUInt32BE(payload.length, 8);
      header.writeUInt16BE(INTERESTING_FLAGS[pick(INTERESTING_FLAGS.length)], 6);
      return Buffer.concat([header, payload]);
    }
    case 7: {
      // insert random bytes inside the payload, fixing up the length
      const at = 12 + pick(Math.max(1, bytes.length - 12));
      const inserted = Buffer.from(Array.from({ length: pick(6) + 1 }, () => pick(256)));
      const grown = Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)]);
      grown.writeUInt32BE(grown.length - 12, 8);
      return grown;
    }
    default: // pure noise
      return Buffer.from(Array.from({ length: pick(40) }, () => pick(256)));
  }
}

describe('decoder fuzz', () => {
  it('turns thousands of random and mutated frames into valid messages or typed errors only', () => {
    const seed = 0x5eed_f1e1;
    const random = prng(seed);
    let decodedFrames = 0;
    let typedErrors = 0;
    for (let round = 0; round < 4000; round++) {
      const label = `seed ${seed}, round ${round}`;
      const inputs: Buffer[] = [];
      for (let i = Math.floor(random() * 3) + 1; i > 0; i--) {
        const frame = SEED_FRAMES[Math.floor(random() * SEED_FRAMES.length)];
        inputs.push(random() < 0.8 ? mutate(random, frame) : frame);
      }
      const stream = Buffer.concat(inputs);
      const decoder = new FrameDecoder(
        {
          onFrame(flags, payload) {
            expectOnlyWireErrors(label, () => {
              assertValid(decodeFramePayload(flags, payload));
              decodedFrames++;
            });
          },
          onError(error) {
            expect(error, label).toBeInstanceOf(WireError);
            typedErrors++;
          },
        },
        { maxFrameBytes: 1 << 20 },
      );
      let position = 0;
      while (position < stream.length) {
        const size = 1 + Math.floor(random() * 48);
        decoder.push(stream.subarray(position, position + size));
        position += size;
      }
      decoder.end();
    }
    // The fuzz must exercise both outcomes, or it is not testing anything.
    expect(decodedFrames).toBeGreaterThan(1000);
    expect(typedErrors).toBeGreaterThan(500);
  });

  it('turns thousands of structurally mutated JSON and MessagePack messages into valid messages or typed errors', () => {
    const seed = 0xc0ffee;
    const random = prng(seed);
    const pick = (n: number) => Math.floor(random() * n);
    const strange: unknown[] = [
      null,
      0,
      -1,
      1.5,
      2 ** 53,
      2 ** 64,
      '',
      'latest',
      'AAAA',
      '====',
      'not base64!',
      [],
      [1, 'a'],
      ['AA=='],
      {},
      { offset: 3 },
      { offset: 'x' },
      { reason: 5 },
      true,
      'constructor',
      '__proto__',
      { node_id: 'n', addr: 'a' },
      [{ node_id: 'n' }],
    ];
    const wires = ALL_SAMPLES.map(
      (message) => JSON.parse(encodeJsonText(message)) as Record<string, unknown>,
    );
    let valid = 0;
    for (let round = 0; round < 4000; round++) {
      const wire: Record<string, unknown> = { ...wires[pick(wires.length)] };
      for (let edits = pick(3) + 1; edits > 0; edits--) {
        const keys = Object.keys(wire);
        const action = pick(4);
        if (action === 0) delete wire[keys[pick(keys.length)]];
        else if (action === 1) wire[keys[pick(keys.length)]] = strange[pick(strange.length)];
        else if (action === 2) wire.type = MESSAGE_TYPES[pick(MESSAGE_TYPES.length)];
        else wire[`extra_${pick(3)}`] = strange[pick(strange.length)];
      }
      const label = `seed ${seed}, round ${round}: ${JSON.stringify(wire)}`;
      expectOnlyWireErrors(label, () => {
        assertValid(decodeJsonMessage(Buffer.from(JSON.stringify(wire))));
        valid++;
      });
      expectOnlyWireErrors(label, () => assertValid(decodeMsgpackMessage(pack(wire))));
    }
    expect(valid).toBeGreaterThan(200);
  });
});
