import { describe, expect, it } from 'vitest';
import { authMessage, negotiate } from '../../client/negotiation.js';
import { FEATURE_PUBLISH_CHUNK, KNOWN_FEATURES, KNOWN_FLAGS, ORIGINAL_V1_FLAGS } from '../../wire/index.js';

describe('negotiation', () => {
  it('offers every flag and feature this version knows', () => {
    expect(authMessage('t1', 'secret')).toEqual({
      type: 'auth',
      tenant_id: 't1',
      token: 'secret',
      client_flags: KNOWN_FLAGS,
      client_features: KNOWN_FEATURES,
    });
  });

  it('uses MessagePack, acked binary batches and chunks with a felix-ts broker', () => {
    const n = negotiate({ type: 'auth_ok', server_flags: KNOWN_FLAGS, server_features: KNOWN_FEATURES });
    expect(n).toMatchObject({
      msgpack: true,
      binaryPublish: true,
      binaryAckedPublish: true,
      publishChunks: true,
    });
  });

  it('uses what the broker advertised, not our own set', () => {
    // The Felix vector's subset: binary publish, acked, ack — no MessagePack, no shared event batches.
    const n = negotiate({ type: 'auth_ok', server_flags: 0x19, server_features: 0 });
    expect(n).toMatchObject({ flags: 0x19, msgpack: false, binaryPublish: true, binaryAckedPublish: true });
    expect(n.publishChunks).toBe(false);
  });

  it('assumes only the original flags and no features from a broker answering ok', () => {
    const n = negotiate({ type: 'ok' });
    expect(n.flags).toBe(ORIGINAL_V1_FLAGS);
    expect(n).toMatchObject({
      msgpack: false,
      binaryPublish: true,
      binaryAckedPublish: false,
      publishChunks: false,
    });
  });

  it('reads the chunk feature at bit 31', () => {
    expect(
      negotiate({ type: 'auth_ok', server_flags: 0, server_features: FEATURE_PUBLISH_CHUNK }).publishChunks,
    ).toBe(true);
  });
});
