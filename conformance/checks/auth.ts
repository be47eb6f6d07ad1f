// Auth and negotiation: docs/protocol.md "Streams", "Negotiation".
import {
  FEATURE_ERROR_CODES,
  FEATURE_TOPOLOGY,
  FELIX_FLAGS,
  FLAG_MSGPACK,
  KNOWN_FLAGS,
  supportsFeature,
} from '../../wire/index.js';
import { ConnectionClosedError } from '../../transport/index.js';
import type { CheckContext } from '../context.js';
import { describeFrame, hex } from '../describe.js';
import { CheckFailure, during, expectThat } from '../failure.js';
import { area } from '../registry.js';
import { ALL_FEATURES, type AuthOffer } from '../session.js';
import { describeConnectFailure } from '../link.js';
import type { ReceivedFrame } from '../frame-stream.js';

// QUIC CRYPTO_ERROR for TLS alert 120 (no_application_protocol): 0x100 + 120.
const NO_APPLICATION_PROTOCOL = 0x178;

/** The auth_ok answering `offer` on a fresh stream. */
async function authOk(ctx: CheckContext, offer: AuthOffer): Promise<{ flags: number; features?: number }> {
  const s = await ctx.authed(undefined, offer);
  const reply = s.authReply;
  if (reply.type !== 'auth_ok') throw new CheckFailure(`expected auth_ok, got ${reply.type}`);
  return { flags: reply.server_flags, features: reply.server_features };
}

export const authChecks = area('auth', {
  /** auth_ok carries the broker's whole flag set and its features. */
  async auth_ok_full_set(ctx) {
    const { flags, features } = await authOk(ctx, { flags: KNOWN_FLAGS, features: ALL_FEATURES });
    const base = FELIX_FLAGS | FLAG_MSGPACK;
    expectThat((flags & base) === base, `server_flags ${hex(flags)} lacks some of ${hex(base)}`);
    expectThat(
      (flags & ~KNOWN_FLAGS) === 0,
      `server_flags ${hex(flags)} has bits beyond the defined ${hex(KNOWN_FLAGS)}`,
    );
    expectThat(features !== undefined, 'auth_ok has no server_features');
    return `server_flags ${hex(flags)}, server_features ${hex(features >>> 0)}`;
  },

  /** server_flags is the broker's full set, not the intersection with the offer. */
  async server_flags_ignore_offer(ctx) {
    const full = await authOk(ctx, { flags: KNOWN_FLAGS });
    for (const offer of [0x19, 0, 0x40, 0x07, 0xff]) {
      const got = await authOk(ctx, { flags: offer });
      expectThat(
        got.flags === full.flags,
        `offering ${hex(offer)} got server_flags ${hex(got.flags)}; offering ${hex(KNOWN_FLAGS)} got ${hex(full.flags)} ` +
          '(server_flags must be the broker’s full set, not the intersection)',
      );
    }
  },

  /** server_features is the broker's full set whatever features the client offered. */
  async server_features_ignore_offer(ctx) {
    const full = await authOk(ctx, { features: ALL_FEATURES });
    for (const offer of [0, null]) {
      const got = await authOk(ctx, { features: offer });
      expectThat(
        (got.features ?? 0) >>> 0 === (full.features ?? 0) >>> 0,
        `offering client_features ${offer === null ? 'absent' : hex(offer)} got server_features ` +
          `${hex((got.features ?? 0) >>> 0)}; offering all got ${hex((full.features ?? 0) >>> 0)}`,
      );
    }
  },

  /** An auth without client_flags (a client from before negotiation) is answered by exactly {"type":"ok"}. */
  async no_client_flags_plain_ok(ctx) {
    const link = await ctx.connect();
    const fs = link.openStream();
    fs.sendJsonText(`{"type":"auth","tenant_id":${JSON.stringify(ctx.tenant)},"token":"x"}`);
    const frame = await fs.next('ok answering an auth without client_flags');
    expectThat(
      frame.flags === 0 && frame.payload.toString('utf8') === '{"type":"ok"}',
      `expected {"type":"ok"}, got ${describeFrame(frame)}`,
    );
  },

  /** A first frame that is a request but not auth: error, then RESET_STREAM + STOP_SENDING 0x101. */
  async first_frame_not_auth(ctx) {
    const link = await ctx.connect();
    const fs = link.openStream();
    fs.sendJsonText(
      `{"type":"publish","tenant_id":${JSON.stringify(ctx.tenant)},"namespace":"conformance","stream":"x","payload":"eA=="}`,
    );
    await ctx.expectProtocolAbort(fs, 'a publish before auth', unauthenticated);
    await during('another stream on the same connection', async () => {
      const s = await ctx.authed(link);
      await s.publish(ctx.names.next('after-unauth'), ['x']);
    });
    await ctx.stillServed();
  },

  /** A first frame that does not even decode is treated the same way. */
  async first_frame_undecodable(ctx) {
    const link = await ctx.connect();
    const fs = link.openStream();
    fs.sendJsonText('{"type":"auth",');
    await ctx.expectProtocolAbort(fs, 'undecodable JSON before auth', unauthenticated);
    await ctx.stillServed();
  },

  /** Offering MSGPACK: auth_ok itself is JSON, every later reply MessagePack; JSON requests still work. */
  async msgpack_replies(ctx) {
    const s = await ctx.authed(undefined, { flags: 0x3f | FLAG_MSGPACK });
    expectThat(s.msgpack, `offered ${hex(0x7f)} but the broker's server_flags lack MSGPACK`);
    const stream = ctx.names.next('msgpack');
    await s.publish(stream, ['json-request']); // expect() checks the reply has flags 0x40
    // An id above u32: MessagePack carries it as a 64-bit integer (uint64 0xcf or int64 0xd3), never a float.
    const id = Number.MAX_SAFE_INTEGER;
    s.send(
      {
        type: 'publish',
        tenant_id: ctx.tenant,
        namespace: 'conformance',
        stream,
        payload: Buffer.from('msgpack-request'),
        request_id: id,
        ack: 'per_message',
      },
      true,
    );
    const { frame, message } = await s.answer('publish_ok (MessagePack) to a MessagePack publish');
    expectThat(
      frame.flags === FLAG_MSGPACK && message.type === 'publish_ok' && message.request_id === id,
      `expected a MessagePack publish_ok for ${id}, got ${describeFrame(frame)}`,
    );
    expectThat(
      frame.payload.includes(Buffer.from('cf001fffffffffffff', 'hex')) ||
        frame.payload.includes(Buffer.from('d3001fffffffffffff', 'hex')),
      `request_id ${id} is not written as a MessagePack 64-bit integer: ${frame.payload.toString('hex')}`,
    );
  },

  /** `code` on errors only for a client that offered ERROR_CODES. */
  async error_codes_only_when_offered(ctx) {
    const without = await ctx.authed(undefined, { features: ALL_FEATURES & ~FEATURE_ERROR_CODES });
    without.fs.sendJsonText('{"type":"frobnicate"}');
    await without.expectError('an unknown type, without ERROR_CODES', { code: 'invalid_request' });
    const withCodes = await ctx.authed();
    withCodes.fs.sendJsonText('{"type":"frobnicate"}');
    await withCodes.expectError('an unknown type, with ERROR_CODES', { code: 'invalid_request' });
  },

  /** Each stream authenticates on its own: two streams of one connection, two tenants. */
  async auth_is_per_stream(ctx) {
    const link = await ctx.connect();
    const mine = await ctx.authed(link);
    const other = await ctx.authed(link, { tenant: `${ctx.tenant}-other` });
    const stream = ctx.names.next('per-stream-auth');
    await mine.publish(stream, ['mine']);
    const id = other.nextRequestId();
    other.send({
      type: 'publish',
      tenant_id: ctx.tenant,
      namespace: 'conformance',
      stream,
      payload: Buffer.from('theirs'),
      request_id: id,
      ack: 'per_message',
    });
    await other.expectError('a publish to the tenant of another stream’s auth', {
      type: 'publish_error',
      code: 'forbidden',
      requestId: id,
    });
    await mine.publish(stream, ['mine-again']);
  },

  /** Publish, subscribe and cache requests mix freely on one stream. */
  async any_request_on_any_stream(ctx) {
    const s = await ctx.authed();
    const stream = ctx.names.next('mixed');
    await s.publish(stream, ['one']);
    const sub = await s.subscribe(stream, { start: 'earliest' });
    const id = s.nextRequestId();
    s.send({
      type: 'cache_put',
      tenant_id: ctx.tenant,
      namespace: 'conformance',
      cache: ctx.names.next('mixed-cache'),
      key: 'k',
      value: Buffer.from('v'),
      request_id: id,
      ttl_ms: null,
    });
    const ok = await s.expect('cache_ok', 'cache_ok on a stream that also published and subscribed');
    expectThat(ok.request_id === id, `cache_ok names ${ok.request_id}, sent ${id}`);
    await sub.events.next('the replayed event on the event stream');
  },

  /** A broker advertising TOPOLOGY answers `topology` with `topology_view`. */
  async topology_when_advertised(ctx) {
    const s = await ctx.authed();
    const features = s.authReply.type === 'auth_ok' ? (s.authReply.server_features ?? 0) : 0;
    if (!supportsFeature(features, FEATURE_TOPOLOGY)) return 'TOPOLOGY not advertised: nothing to check';
    s.send({ type: 'topology' });
    const view = await s.expect('topology_view', 'topology_view answering topology');
    expectThat(view.brokers.length > 0, 'topology_view lists no broker');
  },

  /** A handshake offering another ALPN than `felix` fails at once with no_application_protocol. */
  async wrong_alpn_refused(ctx) {
    const outcome = await ctx.connectWithAlpn('not-felix');
    if ('link' in outcome)
      throw new CheckFailure(
        'a handshake offering ALPN "not-felix" succeeded (or transport/ ignores the kit’s alpn option)',
      );
    const err = outcome.error;
    if (!(err instanceof ConnectionClosedError))
      throw new CheckFailure(`expected a failed handshake, got ${describeConnectFailure(err)}`);
    expectThat(
      err.info.code === NO_APPLICATION_PROTOCOL && !err.info.isApp,
      `expected TLS alert no_application_protocol (transport code 0x178), got ${describeConnectFailure(err)}`,
    );
  },
});

/** The reply to a first frame that is not a valid auth. */
function unauthenticated(frame: ReceivedFrame): void {
  const m = frame.message;
  if (m?.type !== 'error')
    throw new CheckFailure(
      `expected error answering a first frame that is not auth, got ${describeFrame(frame)}`,
    );
  // Nothing is negotiated before auth, ERROR_CODES included: the error carries no code.
  expectThat(
    m.code === undefined,
    `expected an error without code (nothing negotiated yet), got ${describeFrame(frame)}`,
  );
}
