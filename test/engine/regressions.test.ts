/**
 * Cases the hostile-input properties found (shrunk by fast-check), kept as plain tests: each states what
 * the issue-10 contract asks for, so it fails until the broker does it and guards it afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KNOWN_FEATURES, encodeFrame } from '../../wire/index.js';
import { EngineConnection, createBroker, framesOf, type EngineBroker } from './engine-harness.js';

let engine: EngineBroker;
afterEach(() => expect(engine.broker.stats.internalErrors).toBe(0));

function stream(): ReturnType<EngineConnection['authedStream']> {
  engine = createBroker();
  return new EngineConnection(engine.broker).authedStream({
    client_flags: 0x1f,
    client_features: KNOWN_FEATURES,
  });
}

describe('contract: a refused request is answered in the form the contract names', () => {
  // Contract, "Errors a peer can cause": publish_error with the request_id only when the request was an
  // ACKED publish; `error` with request_id for other requests whose id could be read.
  const unacked = [
    // Non-canonical base64 in the payload, no ack.
    '{"type":"publish","tenant_id":"t1","namespace":"ns","stream":"s","payload":"!","request_id":5}',
    // A required field missing, no ack (shrunk from a mutated publish_chunk).
    '{"type":"publish_chunk","tenant_id":"t1","namespace":"ns","stream":"s","publish_id":0,"total_len":0,"payload":"","request_id":5}',
    // An ack mode that is none of the three.
    '{"type":"publish_batch","tenant_id":"t1","namespace":"ns","stream":"s","payloads":[],"request_id":5,"ack":"sometimes"}',
  ];
  for (const text of unacked) {
    it(`an unacked publish that does not decode gets error with its request_id: ${text.slice(0, 60)}…`, () => {
      const s = stream();
      s.clientWrite(encodeFrame(0, Buffer.from(text)));
      expect(framesOf(s)[1]).toMatchObject({ type: 'error', request_id: 5, code: 'invalid_request' });
    });
  }

  it('an acked publish that does not decode gets publish_error with its request_id', () => {
    const s = stream();
    const text =
      '{"type":"publish","tenant_id":"t1","namespace":"ns","stream":"s","payload":"!","request_id":6,"ack":"per_message"}';
    s.clientWrite(encodeFrame(0, Buffer.from(text)));
    expect(framesOf(s)[1]).toMatchObject({ type: 'publish_error', request_id: 6, code: 'invalid_request' });
  });
});

describe('contract: every answer decodes', () => {
  it('the error for text that is not JSON, whose parser message cuts a surrogate pair, is well-formed', () => {
    // Shrunk from a mutated publish: U+10000 (F0 90 80 80) before the object. JSON.parse's message quotes
    // the input around the fault and cut the character's surrogate pair in half; echoed as is, the answer
    // held a lone surrogate that no decoder of this protocol accepts.
    const s = stream();
    const text =
      '\u{10000}{"type":"publish","tenant_id":"t1","namespace":"ns","stream":"s","payload":"","request_id":0}';
    s.clientWrite(encodeFrame(0, Buffer.from(text)));
    const answer = framesOf(s)[1] as { type: string; message: string };
    expect(answer).toMatchObject({ type: 'error', code: 'invalid_request' });
    expect(answer.message.isWellFormed()).toBe(true);
  });
});
