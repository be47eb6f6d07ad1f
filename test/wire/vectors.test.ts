import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeBinaryPublishAck,
  decodeBinaryPublishBatch,
  decodeFramePayload,
  decodeJsonMessage,
  decodeWholeFrame,
  encodeBinaryPublishAck,
  encodeBinaryPublishBatch,
  encodeJsonMessage,
  FrameDecoder,
  type Message,
  type WireError,
} from '../../wire/index.js';
import { VECTORS_DIR } from './helpers.js';

interface Vector {
  name: string;
  kind?: string;
  flags?: number;
  payload_json?: string;
  payload_hex: string;
  frame_hex: string;
  [field: string]: unknown;
}

const vectors: Vector[] = readdirSync(VECTORS_DIR)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => JSON.parse(readFileSync(join(VECTORS_DIR, file), 'utf8')) as Vector);

const jsonVectors = vectors.filter((vector) => vector.kind === undefined);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('Felix wire vectors', () => {
  it('finds every vector (guards against a loop over nothing)', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(13);
    expect(jsonVectors.length).toBeGreaterThanOrEqual(10);
  });

  it('every .hex file holds the same frame as its .json', () => {
    for (const vector of vectors) {
      const fromHexFile = readFileSync(join(VECTORS_DIR, `${vector.name}.hex`), 'utf8').trim();
      expect(fromHexFile, vector.name).toBe(vector.frame_hex);
    }
  });

  it.each(vectors.map((vector) => [vector.name, vector] as const))(
    '%s frames and decodes',
    (_name, vector) => {
      const frame = decodeWholeFrame(Buffer.from(vector.frame_hex, 'hex'));
      expect(frame.flags).toBe(vector.flags ?? 0);
      expect(hex(frame.payload)).toBe(vector.payload_hex);
      expect(() => decodeFramePayload(frame.flags, frame.payload)).not.toThrow();
    },
  );

  it.each(jsonVectors.map((vector) => [vector.name, vector] as const))(
    '%s decodes to the message in payload_json and re-encodes byte-identically',
    (_name, vector) => {
      const frame = decodeWholeFrame(Buffer.from(vector.frame_hex, 'hex'));
      const message = decodeJsonMessage(frame.payload);
      // The decoded object must hold exactly what the JSON says, byte fields base64-decoded.
      const expected = JSON.parse(vector.payload_json as string) as Record<string, unknown>;
      expect(message.type).toBe(expected.type);
      for (const [field, value] of Object.entries(message)) {
        const wireValue = expected[field];
        if (value instanceof Uint8Array) expect(Buffer.from(value).toString('base64'), field).toBe(wireValue);
        else expect(value, field).toEqual(wireValue);
      }
      expect(Object.keys(message).sort()).toEqual(Object.keys(expected).sort());
      expect(hex(encodeJsonMessage(message))).toBe(vector.frame_hex);
    },
  );

  it('auth_with_capabilities reads client_flags from the field, not from a constant', () => {
    const vector = vectors.find((v) => v.name === 'auth_with_capabilities') as Vector;
    const message = decodeJsonMessage(decodeWholeFrame(Buffer.from(vector.frame_hex, 'hex')).payload);
    expect(message).toEqual({ type: 'auth', tenant_id: 't1', token: 'demo-token', client_flags: 25 });
  });

  it('binary_publish_acked decodes to the acked publish_batch and re-encodes byte-identically', () => {
    const vector = vectors.find((v) => v.name === 'binary_publish_acked') as Vector;
    const frame = decodeWholeFrame(Buffer.from(vector.frame_hex, 'hex'));
    const batch = decodeBinaryPublishBatch(frame.flags, frame.payload);
    expect(batch.request_id).toBe(vector.request_id);
    expect(batch.ack).toBe(vector.ack_mode);
    expect(batch.tenant_id).toBe(vector.tenant_id);
    expect(batch.namespace).toBe(vector.namespace);
    expect(batch.stream).toBe(vector.stream);
    expect(batch.payloads.map((p) => Buffer.from(p).toString('utf8'))).toEqual(vector.payloads_utf8);
    expect(hex(encodeBinaryPublishBatch(batch))).toBe(vector.frame_hex);
  });

  it.each(['binary_publish_ack_ok', 'binary_publish_ack_error'])('%s decodes and re-encodes', (name) => {
    const vector = vectors.find((v) => v.name === name) as Vector;
    const frame = decodeWholeFrame(Buffer.from(vector.frame_hex, 'hex'));
    const ack = decodeBinaryPublishAck(frame.payload);
    expect(ack.request_id).toBe(vector.request_id);
    if (vector.status === 'ok') expect(ack).toEqual({ type: 'publish_ok', request_id: vector.request_id });
    else
      expect(ack).toEqual({ type: 'publish_error', request_id: vector.request_id, message: vector.message });
    expect(hex(encodeBinaryPublishAck(ack))).toBe(vector.frame_hex);
  });

  it('all vectors concatenated decode through the stream decoder, split at every byte', () => {
    const stream = Buffer.concat(vectors.map((vector) => Buffer.from(vector.frame_hex, 'hex')));
    for (let split = 0; split <= stream.length; split++) {
      const frames: string[] = [];
      const errors: WireError[] = [];
      const decoder = new FrameDecoder({
        onFrame: (flags, payload) => frames.push(`${flags}:${hex(payload)}`),
        onError: (error) => errors.push(error),
      });
      decoder.push(stream.subarray(0, split));
      decoder.push(stream.subarray(split));
      expect(errors).toEqual([]);
      expect(frames).toEqual(vectors.map((vector) => `${vector.flags ?? 0}:${vector.payload_hex}`));
    }
  });

  it('decoded messages are plain typed objects', () => {
    const vector = vectors.find((v) => v.name === 'cache_put') as Vector;
    const message = decodeJsonMessage(
      decodeWholeFrame(Buffer.from(vector.frame_hex, 'hex')).payload,
    ) as Message;
    expect(message).toEqual({
      type: 'cache_put',
      tenant_id: 't1',
      namespace: 'default',
      cache: 'primary',
      key: 'demo-key',
      value: Buffer.from('cached'),
      ttl_ms: 1000,
    });
  });
});
