import { fitsWithReserve } from './checks.js';
import {
  byteSize,
  certificateFile,
  defineSettings,
  duration,
  flag,
  integer,
  oneOf,
  secret,
  text,
  type Setting,
  type SettingsOf,
} from './setting.js';
import {
  FRAME_ENVELOPE_RESERVE_BYTES,
  MAX_FRAME_LIMIT,
  QUEUE_POLICIES,
  eventWindows,
  sharedSettings,
  keepAliveBelowIdleTimeout,
  streamWithinConnectionWindow,
  windowSettings,
} from './shared-settings.js';
import { HOSTNAME_PATTERN } from './kinds.js';
import { defineSide, type CrossCheck } from './side.js';
import { KiB, MiB } from './units.js';

// Tokens are a few hundred bytes; the broker refuses longer than this unread (broker/auth/verifier.ts).
const MAX_TOKEN_CHARS = 65_536;
const TOKEN_PATTERN = new RegExp(`^[\\x21-\\x7e]{0,${MAX_TOKEN_CHARS}}$`);

// The broker's transport lets one connection open this many bidirectional streams at once.
const MAX_STREAMS_PER_CONN = 1024;
// Each pooled connection is a QUIC connection with its own handshake, timers and windows.
const MAX_POOL = 256;

/** An integer setting whose -1 (a documented switch) may also come as text, which integers read as digits only. */
function minusOneAllowed(setting: Setting<number>): Setting<number> {
  const parse = setting.kind.parse;
  return Object.freeze({
    ...setting,
    kind: { ...setting.kind, parse: (raw: unknown) => (raw === '-1' ? parse(-1) : parse(raw)) },
  });
}

const clientSettings = defineSettings({
  ...sharedSettings,
  pubConnPool: integer({
    env: 'FELIX_PUB_CONN_POOL',
    default: 4,
    min: 1,
    max: MAX_POOL,
    unit: 'connections',
    doc: 'QUIC connections the client opens for publishing. More spreads publishes over more congestion windows.',
  }),
  pubStreamsPerConn: integer({
    env: 'FELIX_PUB_STREAMS_PER_CONN',
    default: 2,
    min: 1,
    max: MAX_STREAMS_PER_CONN,
    unit: 'streams',
    doc:
      'Long-lived publish streams per publish connection. Publishes to one stream stay in order only ' +
      'within one publish stream, which FELIX_PUB_SHARDING=hash_stream guarantees.',
  }),
  pubSharding: oneOf({
    env: 'FELIX_PUB_SHARDING',
    envAliases: ['FELIX_PUBLISH_SHARDING'],
    values: ['hash_stream', 'rr'],
    default: 'hash_stream',
    doc:
      'How a publish picks its publish stream. hash_stream hashes tenant, namespace and stream, so every ' +
      'publish to one stream takes the same path and stays in order; rr rotates through all publish ' +
      'streams, spreading one hot stream over them at the cost of ordering between publishes.',
  }),
  publishChunkBytes: byteSize({
    env: 'FELIX_PUBLISH_CHUNK_BYTES',
    default: 16 * KiB,
    profiles: { 'high-memory': 32 * KiB },
    min: KiB,
    max: MAX_FRAME_LIMIT - FRAME_ENVELOPE_RESERVE_BYTES,
    doc:
      'Most payload bytes the publisher packs into one publish batch frame; a larger batch is split into ' +
      'several frames. Smaller chunks interleave better with other publishes on the same stream; larger ' +
      'ones cost fewer frames. Also the size of the pieces of a chunked publish (FELIX_PUBLISH_WHOLE_MAX_BYTES).',
  }),
  publishWholeMaxBytes: byteSize({
    env: 'FELIX_PUBLISH_WHOLE_MAX_BYTES',
    default: MiB,
    min: KiB,
    max: MAX_FRAME_LIMIT - FRAME_ENVELOPE_RESERVE_BYTES,
    doc:
      'Largest payload the publisher sends whole; a larger one goes as a chunked publish in pieces of ' +
      'FELIX_PUBLISH_CHUNK_BYTES (to a broker that takes them), so that other publishes on its stream can ' +
      'pass it. A payload above FELIX_PUBLISH_CHUNK_BYTES and up to this travels alone in one binary frame: ' +
      'the pieces, each a message the broker decodes, buffers and joins, cost 64 KiB payloads 40% of their ' +
      'rate, while a whole 1 MiB payload holds its stream for about 2 ms. A chunked publish is written this ' +
      'many bytes per event-loop turn, so none holds its stream longer at a time. Never below ' +
      'FELIX_PUBLISH_CHUNK_BYTES, nor above what fits in FELIX_MAX_FRAME_BYTES with its envelope.',
  }),
  ...windowSettings('pub', "the client's publish connections", {
    conn: 64 * MiB,
    stream: 16 * MiB,
    send: 64 * MiB,
  }),
  eventConnPool: integer({
    env: 'FELIX_EVENT_CONN_POOL',
    envAliases: ['FELIX_SUB_CONNS'],
    default: 8,
    min: 1,
    max: MAX_POOL,
    unit: 'connections',
    doc:
      'QUIC connections the client spreads its subscriptions over. Each carries the event streams the ' +
      'broker opens for its subscriptions, so more connections mean more independent flow-control windows.',
  }),
  ...eventWindows,
  eventRouterMaxPending: integer({
    env: 'FELIX_EVENT_ROUTER_MAX_PENDING',
    default: 16_384,
    min: 1,
    max: 1_000_000,
    unit: 'streams',
    doc:
      'Event streams the broker has opened whose subscription the client has not registered yet, and ' +
      'registrations still waiting for their stream. Beyond it new ones are refused, so a buggy or hostile ' +
      'peer cannot grow these tables without bound.',
  }),
  clientSubQueueCapacity: integer({
    env: 'FELIX_CLIENT_SUB_QUEUE_CAPACITY',
    default: 256,
    min: 1,
    max: 1_048_576,
    unit: 'events',
    doc: 'Events buffered in the client for one subscription between the network and the application.',
  }),
  clientSubQueuePolicy: oneOf({
    env: 'FELIX_CLIENT_SUB_QUEUE_POLICY',
    values: QUEUE_POLICIES,
    default: 'block',
    doc:
      'What a full client subscription buffer does with the next event. block (the default) stops reading ' +
      'the event stream, so QUIC flow control pushes back on the broker (whose own queue policy and ' +
      'slow-consumer limits then apply, and which paces a replay): an application reading slower than the ' +
      'stream never loses events silently in the client. drop_new and drop_old discard in the client, ' +
      'leaving a gap in the offsets the application sees (counted in localDropped).',
  }),
  cacheConnPool: integer({
    env: 'FELIX_CACHE_CONN_POOL',
    default: 8,
    min: 1,
    max: MAX_POOL,
    unit: 'connections',
    doc: 'QUIC connections the client opens for cache requests.',
  }),
  cacheStreamsPerConn: integer({
    env: 'FELIX_CACHE_STREAMS_PER_CONN',
    default: 4,
    min: 1,
    max: MAX_STREAMS_PER_CONN,
    unit: 'streams',
    doc:
      'Long-lived cache streams per cache connection. Cache concurrency is FELIX_CACHE_CONN_POOL × ' +
      'FELIX_CACHE_STREAMS_PER_CONN × FELIX_CACHE_STREAM_MAX_INFLIGHT requests.',
  }),
  ...windowSettings('cache', "the client's cache connections", {
    conn: 256 * MiB,
    stream: 64 * MiB,
    send: 256 * MiB,
  }),
  reconnectInitialMs: duration({
    env: 'FELIX_RECONNECT_INITIAL_MS',
    default: 100,
    min: 1,
    max: 60_000,
    doc:
      'Wait before the first attempt to reopen a pooled connection that was lost (or refused while the ' +
      'broker drains); each further attempt waits twice as long, up to FELIX_RECONNECT_MAX_MS. Every wait ' +
      'is jittered (between half and all of it), so clients that lost the same broker do not return in ' +
      'step.',
  }),
  reconnectMaxMs: duration({
    env: 'FELIX_RECONNECT_MAX_MS',
    default: 5_000,
    min: 1,
    max: 3_600_000,
    doc: 'Longest wait between two attempts to reopen a lost connection.',
  }),
  reconnectAttempts: minusOneAllowed(
    integer({
      env: 'FELIX_RECONNECT_ATTEMPTS',
      default: -1,
      min: -1,
      max: 1_000_000,
      unit: 'attempts',
      zeroMeans: 'never reconnects: a lost connection fails what was in flight and closes the client',
      doc:
        'Attempts to reopen one lost connection before the client gives up: it then closes, rejecting what ' +
        'is outstanding with connection_closed, and `client.closed` resolves with the error. An attempt ' +
        'succeeds once a stream authenticates on the new connection: one whose auth the broker refuses ' +
        'counts as failed. -1: unlimited (each attempt is still bounded by connectTimeoutMs).',
    }),
  ),
  tlsCa: certificateFile({
    env: 'FELIX_TLS_CA',
    doc:
      "PEM certificate(s) the broker's certificate is verified against (a CA, or the broker's self-signed " +
      'certificate itself). Unset, the client accepts any certificate from a loopback address (and logs a ' +
      'warning) and refuses other addresses unless FELIX_TLS_INSECURE is on.',
  }),
  tlsInsecure: flag({
    env: 'FELIX_TLS_INSECURE',
    default: false,
    doc:
      'Accept any certificate from any address when FELIX_TLS_CA is unset. Traffic can then be ' +
      'intercepted; meant for test networks only.',
  }),
  tlsServerName: text({
    env: 'FELIX_TLS_SERVER_NAME',
    pattern: HOSTNAME_PATTERN,
    describe: 'a DNS name such as broker.internal',
    doc:
      "Name the broker's certificate must carry, sent as SNI. Unset, it is the host connected to " +
      '(localhost for loopback addresses). Needed when connecting by IP address to a broker whose ' +
      'certificate names it by DNS name.',
  }),
  authToken: secret(
    text({
      env: 'FELIX_AUTH_TOKEN',
      pattern: TOKEN_PATTERN,
      describe: `up to ${MAX_TOKEN_CHARS} visible ASCII characters`,
      doc:
        "The token every stream sends in its auth message: a JWT signed with a key of the broker's " +
        'FELIX_AUTH_JWKS, made with `felix-ts auth mint` or by a Felix control plane. Its tid claim must ' +
        'name the tenant the client uses. Unset, the client sends an empty token, which only a broker ' +
        "without token auth accepts. The SDK's connect option `token` sets the same value. Logs show only " +
        'whether it is set.',
    }),
  ),
});

export type ClientConfig = SettingsOf<typeof clientSettings>;

const clientChecks: readonly CrossCheck<ClientConfig>[] = [
  keepAliveBelowIdleTimeout(),
  streamWithinConnectionWindow(clientSettings, 'pub'),
  streamWithinConnectionWindow(clientSettings, 'event'),
  streamWithinConnectionWindow(clientSettings, 'cache'),
  fitsWithReserve(
    clientSettings,
    'publishChunkBytes',
    FRAME_ENVELOPE_RESERVE_BYTES,
    'maxFrameBytes',
    'a full publish chunk and its frame envelope must fit in one frame',
  ),
  {
    settings: ['reconnectInitialMs', 'reconnectMaxMs'],
    rule: 'FELIX_RECONNECT_INITIAL_MS must not exceed FELIX_RECONNECT_MAX_MS: the first wait is the shortest',
    holds: (c) => c.reconnectInitialMs <= c.reconnectMaxMs,
  },
  {
    settings: ['tlsCa', 'tlsInsecure'],
    rule: 'FELIX_TLS_INSECURE cannot be on while FELIX_TLS_CA is set: the CA would verify and the flag would do nothing',
    holds: (c) => !(c.tlsInsecure && c.tlsCa !== null),
  },
];

export const clientSide = defineSide({
  side: 'client',
  settings: clientSettings,
  sections: {},
  checks: clientChecks,
});
