/**
 * Every string a peer sends must be well-formed Unicode (docs/protocol.md, "Strings"): a MessagePack str
 * whose bytes are not UTF-8, a JSON `\u` escape of a lone surrogate and a binary layout's name that is
 * not UTF-8 are refused as malformed, never turned into U+FFFD or kept as a lone surrogate — either would
 * make a garbled name or cache key silently stand for another one.
 */
import fc from 'fast-check';
import { Packr, pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  decodeBinaryPublishBatch,
  decodeMessage,
  encodeBinaryPublishBatch,
  FLAG_MSGPACK,
  HEADER_BYTES,
} from '../../wire/index.js';
import { expectWireError } from './helpers.js';

/** Byte sequences no UTF-8 decoder may accept, each after its reason. */
const NOT_UTF8: readonly (readonly [string, readonly number[]])[] = [
  ['an encoded surrogate', [0xed, 0xa0, 0x80]],
  ['an encoded low surrogate', [0xed, 0xbf, 0xbf]],
  ['an overlong NUL', [0xc0, 0x80]],
  ['an overlong slash', [0xe0, 0x80, 0xaf]],
  ['a sequence cut short', [0xe2, 0x82]],
  ['a lone continuation byte', [0x80]],
  ['a byte UTF-8 never uses', [0xff]],
  ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
];

/** A MessagePack str holding `body` in the shortest form its length allows. */
function str(body: Buffer): Buffer {
  if (body.length < 32) return Buffer.concat([Buffer.of(0xa0 | body.length), body]);
  if (body.length < 0x100) return Buffer.concat([Buffer.of(0xd9, body.length), body]);
  if (body.length < 0x10000) {
    const head = Buffer.of(0xda, 0, 0);
    head.writeUInt16BE(body.length, 1);
    return Buffer.concat([head, body]);
  }
  const head = Buffer.of(0xdb, 0, 0, 0, 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

const CACHE_FIELDS = ['tenant_id', 'namespace', 'cache', 'key'] as const;

/** A msgpack cache_put (request 7) whose `field` is the raw str `body`; the other fields are plain ASCII. */
function cachePutWith(field: string, body: Buffer, keyBody?: Buffer): Buffer {
  const entries: Buffer[] = [str(Buffer.from('type')), str(Buffer.from('cache_put'))];
  for (const name of CACHE_FIELDS) {
    entries.push(str(Buffer.from(name)), name === field ? str(body) : str(Buffer.from('x')));
  }
  entries.push(
    pack('value'),
    pack(Buffer.from('v')),
    pack('request_id'),
    pack(7),
    pack('ttl_ms'),
    pack(null),
  );
  let count = 8;
  if (!(CACHE_FIELDS as readonly string[]).includes(field)) {
    // An unknown field, ignored when well-formed: its key or its value carries the text.
    entries.push(keyBody === undefined ? str(Buffer.from(field)) : str(keyBody), str(body));
    count += 1;
  }
  return Buffer.concat([Buffer.of(0x80 | count), ...entries]);
}

describe('MessagePack strings', () => {
  // The JS reader, its TextDecoder path (over 64 bytes) and the native extractor (payloads of 140 bytes
  // and more, when msgpackr-extract is loaded) all replace bad bytes: lengths below reach each of them.
  it.each(NOT_UTF8)('refuses a str holding %s, in any field, at any length', (_what, bad) => {
    for (const field of [...CACHE_FIELDS, 'extra']) {
      for (const padding of [0, 5, 40, 100, 300, 70_000]) {
        const body = Buffer.concat([Buffer.alloc(padding, 'a'), Buffer.from(bad), Buffer.from('z')]);
        const error = expectWireError(
          () => decodeMessage(FLAG_MSGPACK, cachePutWith(field, body)),
          'malformed',
        );
        expect(error.message).toContain('UTF-8');
        // The id could be read, so the refusal names the request.
        expect(error.requestId).toBe(7);
      }
    }
  });

  it('refuses a map key that is not UTF-8', () => {
    const bad = Buffer.from([0x6b, 0xed, 0xa0, 0x80]);
    expectWireError(
      () => decodeMessage(FLAG_MSGPACK, cachePutWith('extra', Buffer.from('v'), bad)),
      'malformed',
    );
  });

  it('keeps any well-formed text exactly, U+FFFD and astral characters included', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }),
        fc.constantFrom(...CACHE_FIELDS),
        (text, field) => {
          const message = decodeMessage(FLAG_MSGPACK, cachePutWith(field, Buffer.from(text, 'utf8')));
          expect((message as unknown as Record<string, unknown>)[field]).toBe(text);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses invalid bytes spliced into any string of any well-formed message', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 80 }),
        fc.string({ unit: 'binary', maxLength: 80 }),
        fc.constantFrom(...NOT_UTF8),
        fc.constantFrom(...CACHE_FIELDS),
        (before, after, [, bad], field) => {
          const body = Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]);
          expectWireError(() => decodeMessage(FLAG_MSGPACK, cachePutWith(field, body)), 'malformed');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses ext values and 0xc1, through which msgpackr builds strings from unchecked bytes', () => {
    const message = { type: 'cache_get', tenant_id: 't1', namespace: 'ns', cache: 'c', key: 'somekey' };
    // Bundled strings (read back by 0xc1 tokens) and records: msgpackr decodes both whatever its options.
    for (const options of [{ bundleStrings: true }, { useRecords: true }]) {
      expectWireError(() => decodeMessage(FLAG_MSGPACK, new Packr(options).pack(message)), 'malformed');
    }
    // A timestamp in a field nobody reads is refused too: no message carries an ext.
    const fields = Object.entries(message).flatMap(([name, value]) => [pack(name), pack(value)]);
    const withDate = Buffer.concat([
      Buffer.of(0x86),
      ...fields,
      pack('at'),
      Buffer.of(0xd6, 0xff, 0, 0, 0, 0),
    ]);
    expectWireError(() => decodeMessage(FLAG_MSGPACK, withDate), 'malformed');
  });
});

describe('JSON strings', () => {
  const get = (key: string, extra = ''): Buffer =>
    Buffer.from(
      `{"type":"cache_get","tenant_id":"t1","namespace":"ns","cache":"c","key":"${key}"${extra},"request_id":9}`,
    );

  it.each([
    ['a lone high surrogate', '\\ud800'],
    ['a lone low surrogate', '\\udc00'],
    ['a pair in the wrong order', '\\udc00\\ud800'],
    ['a high surrogate before a plain character', 'a\\uD83Dx'],
    ['a high surrogate at the end', 'abc\\udbff'],
  ])('refuses %s, naming the request', (_what, key) => {
    const error = expectWireError(() => decodeMessage(0, get(key)), 'malformed');
    expect(error.message).toContain('surrogate');
    expect(error.requestId).toBe(9);
  });

  it('refuses a lone surrogate in a field nobody reads, and in an object key', () => {
    expectWireError(() => decodeMessage(0, get('k', ',"extra":["x","\\ud800"]')), 'malformed');
    expectWireError(() => decodeMessage(0, get('k', ',"\\udfff":1')), 'malformed');
  });

  it('accepts surrogate pairs and escapes that only look like one', () => {
    expect(decodeMessage(0, get('\\ud83d\\ude00'))).toMatchObject({ key: '😀' });
    expect(decodeMessage(0, get('\\\\ud800'))).toMatchObject({ key: '\\ud800' });
    expect(decodeMessage(0, get('\\ufffd'))).toMatchObject({ key: '\ufffd' });
  });

  it('walks a deeply nested value without exhausting the stack', () => {
    const deep = `${'['.repeat(200_000)}"\\ud800"${']'.repeat(200_000)}`;
    expectWireError(() => decodeMessage(0, get('k', `,"extra":${deep}`)), 'malformed');
  });
});

describe('binary layout names', () => {
  it.each(NOT_UTF8)('refuses a stream name holding %s', (_what, bad) => {
    const frame = encodeBinaryPublishBatch({
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'abc',
      payloads: [Buffer.from('p')],
      request_id: 3,
      ack: 'per_message',
    });
    const payload = Buffer.from(frame.subarray(HEADER_BYTES));
    // The stream name's 3 bytes come after the 9-byte prefix and two length-prefixed names.
    const at = 9 + 2 + 2 + 2 + 2 + 2;
    const body = Buffer.concat([
      payload.subarray(0, at - 2),
      Buffer.of(0, bad.length),
      Buffer.from(bad),
      payload.subarray(at + 3),
    ]);
    const error = expectWireError(() => decodeBinaryPublishBatch(0x09, body), 'malformed');
    expect(error.requestId).toBe(3);
  });
});
