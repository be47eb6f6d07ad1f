import { fitsWithReserve, notAbove, shareBetween } from './checks.js';
import {
  bindAddress,
  byteSize,
  defineSettings,
  duration,
  filePath,
  flag,
  integer,
  oneOf,
  secret,
  text,
  type SettingsOf,
} from './setting.js';
import {
  FRAME_ENVELOPE_RESERVE_BYTES,
  MAX_NAME_BYTES,
  MAX_FRAME_LIMIT,
  QUEUE_POLICIES,
  eventWindows,
  sharedSettings,
  keepAliveBelowIdleTimeout,
  streamWithinConnectionWindow,
  windowSettings,
} from './shared-settings.js';
import { defineSide, type CrossCheck, type SectionsOf } from './side.js';
import { tenantsSection } from './tenants.js';
import { KiB, MiB, TiB } from './units.js';

/** When a new client must prove its source address with a QUIC Retry before the broker keeps any state. */
export const QUIC_RETRY_MODES = ['always', 'never', 'auto'] as const;

const QUEUE_POLICY_DOC =
  'block makes the producer wait for room (nothing is lost, a slow consumer slows its producers); ' +
  'drop_new discards the event that does not fit; drop_old discards the oldest queued event to make room ' +
  '(what the transport already holds cannot be dropped, so under drop_old at most a quarter of ' +
  'FELIX_SUB_QUEUE_CAPACITY goes there ahead: a subscriber that reads again gets that many of its oldest ' +
  'events, then the newest). Every event carries its stream offset, so a subscriber sees the gap a drop leaves.';

export const AUTH_MODES = ['auto', 'jwt', 'none'] as const;
export const DURABLE_FSYNC_POLICIES = ['none', 'periodic', 'on_commit'] as const;
/** FELIX_LOG_PRETTY: auto follows whether stdout is a terminal. */
export const LOG_PRETTY_MODES = ['auto', '1', '0'] as const;

/**
 * Bytes a cache entry costs beyond its key, value and path: the entry object, its Map slot, the key
 * string's header, the value's Buffer object, the heap slot when it has a TTL. bench/broker/cache-entry-
 * overhead.ts measured 356 B without TTL and 385 B with one (200k entries, Node 20, with the heap's
 * deadline slot); rounded up so the bound holds. The cache store counts it; the checks below keep the
 * largest entry within FELIX_CACHE_MAX_BYTES.
 */
export const CACHE_ENTRY_OVERHEAD_BYTES = 400;
/** The longest tenant/namespace/cache path a cache key is stored under: three names and their separators. */
export const CACHE_PATH_MAX_BYTES = 3 * (MAX_NAME_BYTES + 1);
export type AuthModeSetting = (typeof AUTH_MODES)[number];
/** FELIX_CACHE_MAX_KEY_BYTES' and FELIX_CACHE_MAX_VALUE_BYTES' defaults. */
const CACHE_MAX_KEY_DEFAULT = 4 * KiB;
const CACHE_MAX_VALUE_DEFAULT = 4 * MiB;
/** The smallest FELIX_CACHE_MAX_BYTES the rule between the cache settings allows with their defaults. */
const CACHE_MAX_BYTES_SMALLEST_BY_DEFAULT =
  CACHE_MAX_KEY_DEFAULT + CACHE_MAX_VALUE_DEFAULT + CACHE_PATH_MAX_BYTES + CACHE_ENTRY_OVERHEAD_BYTES;

// RFC 7519 allows any string in iss and aud; refuse only what is surely a mistake: control characters and
// leading or trailing spaces, which no issuer would mint and which would make every token fail.
const CLAIM_TEXT_PATTERN = /^(?!\s)[^\p{Cc}]{1,1024}(?<!\s)$/u;
const CLAIM_TEXT_RULE = '1–1024 chars, no control chars or edge spaces';

/** JSON peers carry cache values in base64, four bytes for every three. */
function base64Length(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}

/**
 * The largest value any configuration accepts: a one-byte key, the value in base64 and the envelope in a
 * frame of the largest size (the rule between FELIX_CACHE_MAX_VALUE_BYTES and FELIX_MAX_FRAME_BYTES below),
 * 3 GiB − 771 B. A larger maximum could never start.
 */
const LARGEST_CACHE_VALUE_BYTES = Math.floor((MAX_FRAME_LIMIT - FRAME_ENVELOPE_RESERVE_BYTES - 1) / 4) * 3;

const brokerSettings = defineSettings({
  quicBind: bindAddress({
    env: 'FELIX_QUIC_BIND',
    default: '0.0.0.0:5000',
    doc:
      'UDP address the QUIC listener binds. Clients connect here. Bound to every address (0.0.0.0, [::]), ' +
      'the broker answers each client from the address that client dialled (the kernel reports it with ' +
      'IP_PKTINFO), so a host with several addresses — a second one on an interface, a virtual IP — serves ' +
      'clients on all of them. That needs the batched UDP paths (FELIX_UDP_RECVMMSG and FELIX_UDP_GSO, ' +
      'Linux x64); without them answers leave from the routed address, and a client dialling another of ' +
      "the host's addresses times out: bind the address the clients dial. The start log line's " +
      'answersFromDialledAddress says on, or why not.',
  }),
  brokerMetricsBind: bindAddress({
    env: 'FELIX_BROKER_METRICS_BIND',
    default: '127.0.0.1:8080',
    doc:
      'TCP address of the HTTP server answering /live, /ready, /metrics (Prometheus) and /dashboard (the live ' +
      'view). Loopback by default: the metrics and the dashboard name streams and tenants, and nothing on this ' +
      'port is authenticated — bind it elsewhere only behind something that is.',
  }),
  tlsCert: filePath({
    env: 'FELIX_TLS_CERT',
    doc:
      'PEM certificate chain the broker presents. Unset (with FELIX_TLS_KEY unset), the broker generates a ' +
      'self-signed certificate at start and logs its SHA-256 fingerprint, which clients must then be told ' +
      'to trust (FELIX_TLS_CA) unless they connect over loopback.',
  }),
  tlsKey: filePath({
    env: 'FELIX_TLS_KEY',
    doc: 'PEM private key of FELIX_TLS_CERT. Set both or neither.',
  }),
  tlsWriteCert: text({
    env: 'FELIX_TLS_WRITE_CERT',
    pattern: /^[^\p{Cc}]{1,4096}$/u,
    describe: 'a file path (written, replacing what is there; its directory must exist)',
    doc:
      'Once the broker listens, it writes the certificate it serves (PEM, the generated one or ' +
      'FELIX_TLS_CERT) to this file, so that clients on other hosts can verify it with FELIX_TLS_CA instead ' +
      'of FELIX_TLS_INSECURE. Only the certificate is written, never the key. A generated certificate is new ' +
      'at every start, so remote clients need the file again after a restart; set FELIX_TLS_CERT and ' +
      'FELIX_TLS_KEY for one that stays (and give clients the CA that issued it). The flag --write-cert FILE ' +
      'does the same.',
  }),
  logPretty: oneOf({
    env: 'FELIX_LOG_PRETTY',
    values: LOG_PRETTY_MODES,
    default: 'auto',
    doc:
      'How the log is written on stdout. auto: one human-readable, coloured line per entry when stdout is a ' +
      'terminal, JSON lines (one object per entry, for log collectors) otherwise. 1: always human-readable. ' +
      '0: always JSON. The flag --pretty is --log-pretty 1.',
  }),
  auth: oneOf({
    env: 'FELIX_AUTH',
    values: AUTH_MODES,
    default: 'auto',
    doc:
      'Who may use the broker. jwt: every stream must authenticate with a token (an Ed25519-signed JWT ' +
      'whose tid claim is its tenant and whose perms claim lists what it may do) verified against ' +
      'FELIX_AUTH_JWKS; anything else is refused. none: no authentication at all, any peer may use any ' +
      'tenant (the broker logs this risk at start). auto: jwt when FELIX_AUTH_JWKS is set; otherwise ' +
      'protected mode, in which the broker serves loopback peers only, refuses every other address as soon ' +
      'as its handshake completes (the connection is closed with code 0x2 before any stream is served), ' +
      'and logs a warning at start. `felix-ts auth keygen` and `felix-ts auth mint` make keys and tokens.',
  }),
  authJwks: filePath({
    env: 'FELIX_AUTH_JWKS',
    doc:
      'JSON Web Key Set file of the Ed25519 public keys tokens may be signed with, each with a kid (a token ' +
      "names its key in its header's kid). Several keys may be listed at once, which is how keys rotate: add " +
      'the new key, move token issuers to it, then remove the old one. The broker reloads the file when it ' +
      'changes (see FELIX_AUTH_JWKS_POLL_MS) and on SIGHUP; a reload that cannot be used is logged and the ' +
      'keys in force stay. Tokens signed by a removed key stop working at once: new streams are refused, and ' +
      'connections with a stream it let in are closed (code 0x3, reason key_removed). A kid given another ' +
      'key counts as its old key removed.',
  }),
  authJwksPollMs: duration({
    env: 'FELIX_AUTH_JWKS_POLL_MS',
    default: 1_000,
    min: 0,
    max: 3_600_000,
    zeroMeans: 'never checks: the file is reloaded only on SIGHUP',
    doc:
      'How often the broker checks FELIX_AUTH_JWKS for changes (one stat of the path; it also notices the ' +
      'file being replaced, as editors and Kubernetes ConfigMaps do).',
  }),
  authIssuer: text({
    env: 'FELIX_AUTH_ISSUER',
    pattern: CLAIM_TEXT_PATTERN,
    describe: CLAIM_TEXT_RULE,
    doc:
      "When set, a token's iss claim must equal it (Felix's control plane issues felix-auth). Unset, iss is " +
      'not checked.',
  }),
  authAudience: text({
    env: 'FELIX_AUTH_AUDIENCE',
    pattern: CLAIM_TEXT_PATTERN,
    describe: CLAIM_TEXT_RULE,
    doc:
      "When set, a token's aud claim must be it or a list containing it (Felix's control plane uses " +
      'felix-broker). Unset, aud is not checked.',
  }),
  authCacheEntries: integer({
    env: 'FELIX_AUTH_CACHE_ENTRIES',
    default: 100_000,
    min: 0,
    max: 10_000_000,
    unit: 'tokens',
    zeroMeans: 'caches nothing: every stream verifies its token',
    doc:
      'Verified tokens the broker remembers (keyed by their SHA-256, until each expires), so that a stream ' +
      'opened with a token seen before costs no signature check. Rejected tokens are remembered in a ' +
      'second cache of the same size, so bad tokens cannot push out good ones. Least recently used entries ' +
      'go first. A verified token costs about 260 bytes when other tokens carry the same permission list ' +
      '(compiled lists are shared), plus about 320 bytes per permission otherwise; a rejected one about 220.',
  }),
  authNegativeCacheMs: duration({
    env: 'FELIX_AUTH_NEGATIVE_CACHE_MS',
    default: 5_000,
    min: 0,
    max: 3_600_000,
    zeroMeans: 'remembers no rejection',
    doc:
      'How long a rejected token is answered from the cache without being checked again. A change of the ' +
      'key set forgets all rejections at once, and a token rejected as not yet valid is checked again once ' +
      'its nbf is reached.',
  }),
  authClockToleranceMs: duration({
    env: 'FELIX_AUTH_CLOCK_TOLERANCE_MS',
    default: 60_000,
    min: 0,
    max: 600_000,
    doc:
      'Allowance for clock differences between token issuers and the broker: a token is accepted until exp ' +
      "plus this, and from nbf minus this (Felix's broker allows 60 s).",
  }),
  authTimeoutMs: duration({
    env: 'FELIX_AUTH_TIMEOUT_MS',
    default: 10_000,
    min: 0,
    max: 600_000,
    zeroMeans: 'no deadline: a connection may stay without an authenticated stream until its idle timeout',
    doc:
      'With authentication on (jwt mode), a connection none of whose streams has authenticated this long ' +
      'after its handshake completed is closed (code 0x5, reason auth timeout), so peers without a valid ' +
      "token cannot hold connection slots (FELIX_MAX_CONNECTIONS) by keeping quiet: NATS's auth_timeout. " +
      'One authenticated stream is enough for the life of the connection. Not applied without authentication. ' +
      "The default matches the SDK's connectTimeoutMs (10 s), which bounds its handshake and auth, a " +
      'tokenProvider included: the SDK asks it for a token after the handshake.',
  }),
  ...sharedSettings,
  eventSendWindow: eventWindows.eventSendWindow,
  ...windowSettings(
    'broker',
    'every connection the broker accepts',
    { conn: 256 * MiB, stream: 64 * MiB, send: 256 * MiB },
    ' The subscriptions of one connection share it: each hands the transport up to its own ' +
      'FELIX_EVENT_SEND_WINDOW share ahead, but one that already holds a backlog waits while the connection ' +
      'is over this window (its events wait in its queue, where FELIX_SUB_QUEUE_POLICY applies), so a client ' +
      'whose many subscriptions stop reading pins about this much in the transport plus up to one frame per ' +
      'subscription (a subscription with nothing there may always hand over one), not a write-ahead each.',
  ),
  eventBatchMaxEvents: integer({
    env: 'FELIX_EVENT_BATCH_MAX_EVENTS',
    default: 64,
    min: 1,
    max: 65_536,
    unit: 'events',
    doc:
      'Most events sent to one subscription in one batch frame. A batch is sent as soon as it is full or ' +
      'reaches FELIX_EVENT_BATCH_MAX_BYTES, and otherwise at the end of the event-loop turn its events ' +
      'arrived in (see FELIX_EVENT_BATCH_MAX_DELAY_US for when it waits longer). 1 sends every event on ' +
      'its own (most frames).',
  }),
  eventBatchMaxBytes: byteSize({
    env: 'FELIX_EVENT_BATCH_MAX_BYTES',
    default: 64 * KiB,
    min: KiB,
    max: MAX_FRAME_LIMIT - FRAME_ENVELOPE_RESERVE_BYTES,
    doc:
      'Most payload bytes in one event batch frame. An event larger than this is sent in a batch of its ' +
      'own. Larger batches mean fewer frames and syscalls per event, and more bytes held back per flush.',
  }),
  eventBatchMaxDelayUs: duration({
    env: 'FELIX_EVENT_BATCH_MAX_DELAY_US',
    default: 250,
    min: 0,
    max: 1_000_000,
    zeroMeans: 'a batch never waits past the event-loop turn its events arrived in',
    doc:
      'Longest time the first event of a batch waits for others to join it; later events never extend it. ' +
      'A batch holds what arrived in one event-loop turn and is sent at the end of that turn, so an event ' +
      'reaching an idle subscriber goes out at once. Only while every subscriber of the stream still has ' +
      'bytes its connection has not taken (a backlog) does a batch wait longer, to go out as fewer, fuller ' +
      'frames: until a subscriber is free again, the batch is full, or this delay has passed since its first ' +
      'event (checked as events arrive, else by a timer, which Node fires 1 ms after at the soonest). ' +
      'Without batching (FELIX_FANOUT_BATCH=1) it does not apply.',
  }),
  fanoutBatch: integer({
    env: 'FELIX_FANOUT_BATCH',
    default: 64,
    min: 1,
    max: 65_536,
    unit: 'subscribers',
    doc:
      'Subscribers a published event is handed to before the broker yields to the event loop. Larger ' +
      'finishes a wide fanout sooner; smaller keeps other connections served between slices of it.',
  }),
  subQueueCapacity: integer({
    env: 'FELIX_SUB_QUEUE_CAPACITY',
    envAliases: ['FELIX_SUBSCRIBER_QUEUE_CAPACITY'],
    default: 131_072,
    min: 1,
    max: 1_048_576,
    unit: 'events',
    doc:
      'Events the broker holds for one subscription: queued, plus those written to its event stream that the ' +
      'transport has not yet handed to QUIC. At this bound (or FELIX_SUB_QUEUE_MAX_BYTES) ' +
      'FELIX_SUB_QUEUE_POLICY decides what happens, whatever the QUIC windows are.',
  }),
  subQueuePolicy: oneOf({
    env: 'FELIX_SUB_QUEUE_POLICY',
    values: QUEUE_POLICIES,
    default: 'drop_new',
    doc: `What a full subscription queue does with the next event. ${QUEUE_POLICY_DOC}`,
  }),
  subQueueMaxBytes: byteSize({
    env: 'FELIX_SUB_QUEUE_MAX_BYTES',
    default: 32 * MiB,
    min: 4 * KiB,
    max: 4 * TiB,
    doc:
      'Bytes the broker holds for one subscription, counted like FELIX_SUB_QUEUE_CAPACITY (queued plus what ' +
      "sits in the transport's send buffer for its event stream); at most a quarter of it, and no more than " +
      'FELIX_EVENT_SEND_WINDOW, is handed to the transport ahead. Bounds what a slow consumer can pin in the ' +
      'broker: the policy applies at this bound, not when the connection windows fill.',
  }),
  slowSubMaxDrops: integer({
    env: 'FELIX_SLOW_SUB_MAX_DROPS',
    default: 10_000,
    min: 0,
    max: 1_000_000_000,
    unit: 'events',
    zeroMeans: 'never disconnects for drops',
    doc:
      'Events a subscription may lose to its queue policy without catching up (getting back under half its ' +
      'bounds) before the broker disconnects it as a slow consumer (reason slow_consumer), so a consumer that ' +
      'cannot keep up learns so instead of silently seeing most events missing. Events are dropped a batch ' +
      'frame at a time, so the count at the disconnect (in its message) can pass this by up to one frame.',
  }),
  slowSubMaxFullMs: duration({
    env: 'FELIX_SLOW_SUB_MAX_FULL_MS',
    default: 5_000,
    min: 0,
    max: 3_600_000,
    zeroMeans: 'never disconnects for a full queue',
    doc:
      'How long a subscription may stay at its bound (FELIX_SUB_QUEUE_CAPACITY / FELIX_SUB_QUEUE_MAX_BYTES) ' +
      'without getting back under half of it before the broker disconnects it as a slow consumer (reason ' +
      'slow_consumer). Under the block policy this is the longest one stuck subscriber holds up the ' +
      'publishers, and with them every other subscriber of the stream.',
  }),
  maxAutoStreamsPerTenant: integer({
    env: 'FELIX_MAX_AUTO_STREAMS_PER_TENANT',
    default: 10_000,
    min: 1,
    max: 10_000_000,
    unit: 'streams',
    doc:
      'Streams one tenant may have created by naming them (FELIX_AUTO_CREATE_STREAMS); a publish or subscribe ' +
      'naming one more is refused with limit_exceeded: class retry_after while the tenant has an idle ' +
      'in-memory stream (no subscriber at the last look for idle streams, see FELIX_STREAM_IDLE_TIMEOUT_MS, or ' +
      'created since), with detail.retry_after_ms saying when the soonest goes unless used first; fatal when ' +
      'it has none or the timeout is 0. Streams declared in the YAML do not count. Bounds what one client can ' +
      'make the broker keep by inventing names.',
  }),
  streamIdleTimeoutMs: duration({
    env: 'FELIX_STREAM_IDLE_TIMEOUT_MS',
    default: 600_000,
    min: 0,
    max: 604_800_000,
    zeroMeans: 'never: auto-created streams stay until the broker stops',
    doc:
      'An auto-created, in-memory stream with no subscriber and no publish for this long is removed with its ' +
      'history (named again, it starts over under a new epoch). Declared and durable streams are never removed. ' +
      'The broker looks for idle streams every tenth of this (at least every 250 ms, at most every 5 s), so a ' +
      'stream goes between this long and this plus two looks after its last use: at most a fifth of it late ' +
      '(up to 0.5 s under a timeout below 2.5 s; never more than 10 s).',
  }),
  connPartialFrameBytes: byteSize({
    env: 'FELIX_CONN_PARTIAL_FRAME_BYTES',
    default: 64 * MiB,
    min: 4 * KiB,
    max: 4 * TiB,
    doc:
      'Bytes of frames still being received that one connection may hold, over all its streams. A stream ' +
      'whose partial frame would pass it is answered limit_exceeded and ended. Must be at least ' +
      'FELIX_MAX_FRAME_BYTES, so one frame of the largest size can always arrive.',
  }),
  partialFrameBytes: byteSize({
    env: 'FELIX_PARTIAL_FRAME_BYTES',
    default: 512 * MiB,
    min: 4 * KiB,
    max: 4 * TiB,
    doc:
      'Bytes of frames still being received that the whole broker may hold, over all connections. Past it, ' +
      'the stream whose frame would pass it is answered limit_exceeded and ended.',
  }),
  tenantPartialFrameBytes: byteSize({
    env: 'FELIX_TENANT_PARTIAL_FRAME_BYTES',
    default: 0,
    min: 0,
    max: 4 * TiB,
    zeroMeans: 'half of FELIX_PARTIAL_FRAME_BYTES, and never less than FELIX_CONN_PARTIAL_FRAME_BYTES',
    doc:
      "One tenant's share of FELIX_PARTIAL_FRAME_BYTES, over all its connections, so that one tenant " +
      'sending frames slowly on many connections cannot hold the whole bound and have every other ' +
      "tenant's large frames refused. Streams that have not authenticated yet hold together at most a " +
      'sixteenth of FELIX_PARTIAL_FRAME_BYTES (at least one auth frame, at most this share): they need no ' +
      'credentials. ' +
      'Without authentication a client names its own tenant, so the share separates nobody.',
  }),
  maxConnections: integer({
    env: 'FELIX_MAX_CONNECTIONS',
    default: 10_000,
    min: 1,
    max: 10_000_000,
    unit: 'connections',
    doc:
      'QUIC connections the broker holds at once, handshaking ones included. One more is refused before any ' +
      'connection state is made: its Initial is answered with QUIC CONNECTION_REFUSED and the reason ' +
      '"connection limit reached", so the client fails at once rather than at a timeout; counted in ' +
      "the transport's dropped datagrams as connection_limit.",
  }),
  maxConnectionsPerAddress: integer({
    env: 'FELIX_MAX_CONNECTIONS_PER_ADDRESS',
    default: 1_000,
    min: 1,
    max: 10_000_000,
    unit: 'connections',
    doc:
      'QUIC connections one source IP address may hold at once; one more from it is refused like one past ' +
      'FELIX_MAX_CONNECTIONS (counted as address_limit). Clients behind one NAT share this.',
  }),
  maxHandshakesPerSec: integer({
    env: 'FELIX_MAX_HANDSHAKES_PER_SEC',
    default: 2_000,
    min: 1,
    max: 10_000_000,
    unit: 'handshakes/s',
    doc:
      "New QUIC handshakes the broker starts per second (a token bucket holding one second's worth, so a " +
      "burst of this many is taken at once). Past it a new client's Initial is dropped unanswered and the " +
      'client gets in with a later retransmission. Only Initials that decrypt spend the budget. Bounds the CPU ' +
      'and memory a flood of Initials can take.',
  }),
  handshakeTimeoutMs: duration({
    env: 'FELIX_HANDSHAKE_TIMEOUT_MS',
    default: 5_000,
    min: 0,
    max: 600_000,
    zeroMeans: 'no handshake timeout: an unfinished handshake lasts until the idle timeout',
    doc:
      'A connection whose handshake has not completed this long after its first Initial is dropped without ' +
      'a packet and its slot freed, so handshakes that are started and never finished cannot hold the ' +
      'handshake table (4,096 slots) or FELIX_MAX_CONNECTIONS.',
  }),
  streamStallTimeoutMs: duration({
    env: 'FELIX_STREAM_STALL_TIMEOUT_MS',
    default: 30_000,
    min: 0,
    max: 3_600_000,
    zeroMeans:
      'no limit: a stream may hold an unfinished frame or chunked publish for as long as it stays open',
    doc:
      'A client stream holding an unfinished frame (counted in FELIX_CONN_PARTIAL_FRAME_BYTES and ' +
      'FELIX_PARTIAL_FRAME_BYTES) or an unfinished chunked publish (counted in the publish budgets) that ' +
      'sends nothing for this long is answered limit_exceeded and ended, and what it held is released: ' +
      "a peer cannot hold the broker's shared budgets by going quiet mid-frame. Time the broker itself " +
      'holds the stream back (its publish budget, a blocked stream, a token being verified) does not count.',
  }),
  brokerWriteDeadlineMs: duration({
    env: 'FELIX_BROKER_WRITE_DEADLINE_MS',
    default: 10_000,
    min: 0,
    max: 3_600_000,
    zeroMeans: 'no write deadline: a silent client is closed at FELIX_IDLE_TIMEOUT_MS',
    doc:
      'A client connection that bytes wait for (events or answers written since it last sent anything, or ' +
      'refused by flow control) and that has sent the broker nothing for this long is closed (code 0x4, ' +
      'reason `write deadline`), its subscriptions and what they hold released: a killed, cut-off or ' +
      "stopped client costs this long of queued events, not the idle timeout's worth (NATS's " +
      'write_deadline). A live client is not taken for a silent one because its application reads slowly: ' +
      "while bytes wait, a connection not heard from for a quarter of this (at most a second) is PINGed, which a client's " +
      'QUIC stack answers whatever its application does; it is closed only after this long without a packet ' +
      'with two PINGs unanswered, the first sent at least three round trips earlier (so a path slower than ' +
      'this only delays the close). A slow reader meets the queue policy and slow-consumer limits instead. ' +
      'A client whose process is stopped (SIGSTOP, a debugger) or whose event loop is blocked for longer ' +
      'is silent: it is closed, then reconnects and resumes from its offsets; so is one on a path that ' +
      'loses nearly every packet for this long. Keep it well above such pauses and the path round trip. A ' +
      'connection nothing waits for is left to FELIX_IDLE_TIMEOUT_MS.',
  }),
  quicRetry: oneOf({
    env: 'FELIX_QUIC_RETRY',
    values: QUIC_RETRY_MODES,
    default: 'auto',
    doc:
      "Address validation with QUIC Retry: the broker answers a new client's first packet with a Retry (a " +
      'token the client must bring back from its source address, one extra round trip) and keeps no state ' +
      'until it does, so a flood of Initials from forged or never-finishing sources costs one small packet ' +
      'each. always: every new connection; never: none (QUIC still sends an unvalidated address at most 3× ' +
      'what it received); auto: while more than FELIX_QUIC_RETRY_ABOVE_PER_SEC new clients arrive per second.',
  }),
  quicRetryAbovePerSec: integer({
    env: 'FELIX_QUIC_RETRY_ABOVE_PER_SEC',
    default: 200,
    min: 0,
    max: 10_000_000,
    unit: 'handshakes/s',
    doc:
      'With FELIX_QUIC_RETRY=auto: the rate of new clients (over the last second) above which each new one ' +
      'is asked for a Retry. Below it clients connect in one round trip less.',
  }),
  resetKey: secret(
    text({
      env: 'FELIX_RESET_KEY',
      pattern: /^[0-9a-fA-F]{32,128}$/,
      describe: '32 to 128 hex digits (16 to 64 bytes)',
      doc:
        "Key the connections' QUIC stateless reset tokens are derived from. A broker that restarts with the " +
        "same key answers the previous run's clients with a stateless reset, so they notice the restart and " +
        'reconnect at once instead of at their idle timeout. Unset: FELIX_RESET_KEY_FILE; else derived from ' +
        "FELIX_TLS_KEY's file; else kept in .stateless-reset.key under FELIX_DURABLE_STORAGE_DIR (a name " +
        'no tenant can have; the stateless-reset.key of earlier versions is moved there, its key kept); else ' +
        "derived from the host's machine id (/etc/machine-id, confidential by definition and never sent: the " +
        'same at every start on this host, so the quick start needs no key); else random at each start ' +
        '(resets then only reach clients of connections this run forgot). Logs show the source, never the key.',
    }),
  ),
  resetKeyFile: text({
    env: 'FELIX_RESET_KEY_FILE',
    pattern: /^[^\0]{1,4096}$/,
    describe: 'a file path (the file may not exist yet)',
    doc:
      'File holding the stateless reset key (hex, as FELIX_RESET_KEY); created with a random key, readable ' +
      'by its owner only, when missing. Keep it with the broker so it outlives restarts.',
  }),
  maxStreamsPerConn: integer({
    env: 'FELIX_MAX_STREAMS_PER_CONN',
    // FELIX_MAX_SUBSCRIPTIONS_PER_CONN's default, and room for the connection's other streams.
    default: 4_096 + 256,
    min: 1,
    max: 1_000_000,
    unit: 'streams',
    doc:
      'Bidirectional streams a client may have open at once on one connection (QUIC initial_max_streams_bidi). ' +
      'A client cannot open one more until one ends: QUIC flow control holds it back, no error is sent. ' +
      'Each SDK subscription holds one for its life (its control stream), so this also bounds the ' +
      "subscriptions of one connection: the default is FELIX_MAX_SUBSCRIPTIONS_PER_CONN's and 256 more. " +
      'Streams the broker opens (one per subscription) are bounded by FELIX_MAX_SUBSCRIPTIONS_PER_CONN.',
  }),
  maxSubscriptionsPerConn: integer({
    env: 'FELIX_MAX_SUBSCRIPTIONS_PER_CONN',
    default: 4096,
    min: 1,
    max: 1_000_000,
    unit: 'subscriptions',
    doc:
      'Subscriptions one connection may hold at once; one more is refused. Bounds the queues and event ' +
      'streams a single client can make the broker keep.',
  }),
  brokerPublishInflightBytes: byteSize({
    env: 'FELIX_BROKER_PUBLISH_INFLIGHT_BYTES',
    default: 64 * MiB,
    min: 4 * KiB,
    max: TiB,
    doc:
      'Publish bytes the whole broker admits at once (received and not yet fanned out). An acked publish ' +
      'that does not fit is refused with an error; an unacked one is accepted and its stream stops being ' +
      'read until room frees, so the publisher feels QUIC flow control. A chunked publish (acked or not) ' +
      'holds what has arrived of it, and a piece that does not fit drops the whole publish (overloaded): ' +
      'held back mid-publish, publishes that each wait for the others to finish could never complete.',
  }),
  brokerPublishConnInflightBytes: byteSize({
    env: 'FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES',
    default: 16 * MiB,
    min: 4 * KiB,
    max: TiB,
    doc:
      "One connection's share of FELIX_BROKER_PUBLISH_INFLIGHT_BYTES, so a single busy publisher cannot " +
      'take the whole budget and starve the others.',
  }),
  brokerPublishTenantInflightBytes: byteSize({
    env: 'FELIX_BROKER_PUBLISH_TENANT_INFLIGHT_BYTES',
    default: 0,
    min: 0,
    max: TiB,
    zeroMeans:
      'half of FELIX_BROKER_PUBLISH_INFLIGHT_BYTES, and never less than FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES',
    doc:
      "One tenant's share of FELIX_BROKER_PUBLISH_INFLIGHT_BYTES, over all its connections, so that one " +
      'tenant (many connections, large chunked publishes sent slowly) cannot take the whole budget and ' +
      "have every other tenant's acked publishes refused (overloaded). Without authentication a client " +
      'names its own tenant, so the share separates nobody.',
  }),
  autoCreateStreams: flag({
    env: 'FELIX_AUTO_CREATE_STREAMS',
    default: true,
    doc:
      'When on, a publish, subscribe or cache request naming an unknown tenant, namespace, stream or ' +
      'cache creates it. When off, only what the YAML `tenants:` block declares exists and anything else ' +
      'is refused, which catches misspelt names.',
  }),
  heapGrowingPercent: integer({
    env: 'FELIX_HEAP_GROWING_PERCENT',
    default: 100,
    profiles: { 'high-memory': 200 },
    min: 0,
    max: 1000,
    unit: 'percent',
    zeroMeans: "V8's own adaptive growth",
    doc:
      'How far the broker process lets its JavaScript heap grow past what survived the last full garbage ' +
      "collection before starting the next one (V8's --heap-growing-percent, set at start by the broker " +
      'process, not by a broker embedded in another program). V8 on its own grows a small heap ~20% and ' +
      'then collects it in full every few tens of milliseconds under load. 100 measured +7–8% delivered ' +
      '4 KiB batches and +32% cache puts of 4 KiB for ~10 MiB more peak memory; 200 +12–25% and +35% for ' +
      '~30 MiB (docs/benchmarks.md, "Heap growth").',
  }),
  idleMemoryReturnMs: duration({
    env: 'FELIX_IDLE_MEMORY_RETURN_MS',
    default: 10_000,
    min: 0,
    max: 3_600_000,
    zeroMeans: 'never: the process keeps what it grew to until V8 or the allocator give it back on their own',
    doc:
      'Once the broker process has been nearly idle (its event loop busy under 5% of the time) for this ' +
      'long and its resident memory is 8 MiB or more above the least it has held (at start, after a ' +
      'return), it runs a full garbage collection and then glibc malloc_trim(0) on a worker thread, giving ' +
      'what a burst left behind back to the operating system (a pause of tens of milliseconds while idle; ' +
      'counted in /metrics as felix_idle_memory_returns_total). A return that gives back less than 8 MiB ' +
      '(the memory is in use) doubles the wait for the next, up to 5 minutes. A sample that fails (the ' +
      'resident set cannot be read while the process is out of file descriptors) returns nothing and is ' +
      'logged as a warning, "idle: a memory sample failed…", the first whole and the rest of each 10 s in ' +
      'one line with their count. Set by the broker process, not by a broker embedded in another program ' +
      '(docs/benchmarks.md, "Idle memory return").',
  }),
  streamReplayCapacity: integer({
    env: 'FELIX_STREAM_REPLAY_CAPACITY',
    default: 1024,
    min: 0,
    max: 16_777_216,
    unit: 'events',
    zeroMeans: 'keeps no history: subscribers only see events published after they subscribe',
    doc:
      'Most recent events each stream keeps in memory so that a subscriber can start from an earlier ' +
      'offset: always the last this many, in the batch frames they were sent in, so the oldest frame kept ' +
      'may hold up to one batch (FELIX_EVENT_BATCH_MAX_BYTES) of older ones too. ' +
      'Costs up to this many payloads per stream and that batch, within 1.5× once framing and batch slabs count ' +
      '(kept events share the 256 KiB slabs their batches were built in), plus about 0.3 KiB per batch ' +
      'and one slab: 64 KiB events at the default hold at most ~96 MiB (docs/benchmarks.md, Memory bounds). ' +
      'FELIX_STREAM_REPLAY_MAX_BYTES bounds the same history in bytes.',
  }),
  streamReplayMaxBytes: byteSize({
    env: 'FELIX_STREAM_REPLAY_MAX_BYTES',
    default: 64 * MiB,
    min: 0,
    max: TiB,
    zeroMeans: 'no bound in bytes: FELIX_STREAM_REPLAY_CAPACITY events alone bound the history',
    doc:
      'Most bytes of event frames each stream keeps in memory for replay: past it the oldest frames go ' +
      'even when fewer than FELIX_STREAM_REPLAY_CAPACITY events are kept (the newest frame always stays), so ' +
      'large events cannot make one stream hold its capacity × 16 MiB. A subscriber asking for an offset no ' +
      'longer kept gets subscribe_cursor_error too_old (the SDK continues from the oldest and reports the ' +
      'gap); a durable stream serves it from disk. Applies per stream: with many streams, what they hold ' +
      'together is this times their number at most.',
  }),
  durableStorageDir: text({
    env: 'FELIX_DURABLE_STORAGE_DIR',
    pattern: /^[^\p{Cc}]{1,4096}$/u,
    describe: 'a directory path (created when missing)',
    doc:
      'Directory of the durable streams: one folder per stream (<tenant>/<namespace>/<stream>/) holding its ' +
      'segment files and stream.json (its epoch). Every durable stream found there is recovered at start: ' +
      'offsets and epochs continue, a torn tail is cut (and logged). Needed as soon as any stream is durable ' +
      '(FELIX_DURABLE_DEFAULT or `durable: true` in the YAML tenants block). See docs/durability.md.',
  }),
  durableDefault: flag({
    env: 'FELIX_DURABLE_DEFAULT',
    default: false,
    doc:
      'Makes every stream durable (kept on disk under FELIX_DURABLE_STORAGE_DIR), including auto-created ' +
      'ones. Off, only the streams the YAML declares with `durable: true` are; the others keep only their ' +
      'in-memory replay ring (FELIX_STREAM_REPLAY_CAPACITY) and lose it on restart.',
  }),
  durableFsync: oneOf({
    env: 'FELIX_DURABLE_FSYNC',
    values: DURABLE_FSYNC_POLICIES,
    default: 'periodic',
    doc:
      'When durable streams force their writes to disk (fdatasync). none: never, the OS writes back when it ' +
      'likes (a broker crash loses nothing written, a machine crash loses recent data). periodic: every ' +
      'FELIX_DURABLE_FSYNC_INTERVAL_MS (like Redis appendfsync everysec: a machine crash loses at most that ' +
      'much). on_commit: after every write, before acks (with FELIX_ACK_ON_COMMIT) go out; many publishes ' +
      'share one fsync (group commit).',
  }),
  durableFsyncIntervalMs: duration({
    env: 'FELIX_DURABLE_FSYNC_INTERVAL_MS',
    default: 1_000,
    min: 1,
    max: 600_000,
    doc:
      'The period of FELIX_DURABLE_FSYNC=periodic. With FELIX_ACK_ON_COMMIT acks (and deliveries) wait up to ' +
      'this long, so keep it short when that is on.',
  }),
  ackOnCommit: flag({
    env: 'FELIX_ACK_ON_COMMIT',
    default: false,
    doc:
      'Acks of publishes to durable streams wait until the events are committed under FELIX_DURABLE_FSYNC ' +
      '(written with none, fsynced with periodic or on_commit), and subscribers receive events only once ' +
      'committed, so no subscriber ever sees an event a crash could take back. Off, acks go out once the ' +
      'events are in the stream (as for in-memory streams) and the disk catches up behind.',
  }),
  durableRetentionBytes: byteSize({
    env: 'FELIX_DURABLE_RETENTION_BYTES',
    default: 0,
    min: 0,
    max: 2 ** 50,
    zeroMeans: 'no limit by size (FELIX_DURABLE_RETENTION_MS still applies)',
    doc:
      'Default most bytes a durable stream keeps on disk (0: no limit); a stream may set its own in the YAML ' +
      '(`retention_bytes`). Whole segments are removed oldest first, in the background, until the stream is ' +
      'under it; the segment being written is never removed.',
  }),
  durableRetentionMs: duration({
    env: 'FELIX_DURABLE_RETENTION_MS',
    default: 7 * 24 * 3_600_000,
    min: 0,
    max: 100 * 365 * 24 * 3_600_000,
    zeroMeans: 'keeps data forever (or until FELIX_DURABLE_RETENTION_BYTES)',
    doc:
      'Default oldest data a durable stream keeps (7 days, as Kafka); a stream may set its own in the YAML ' +
      '(`retention_ms`). A segment is removed once its newest record is older than this.',
  }),
  durableSegmentBytes: byteSize({
    env: 'FELIX_DURABLE_SEGMENT_BYTES',
    default: 64 * MiB,
    min: 4 * KiB,
    max: 4 * 1024 * MiB,
    doc:
      'Size at which a durable stream starts a new segment file (a write is never split: one larger than this ' +
      'makes up a segment alone). Retention removes whole segments, so this ' +
      'is its granularity and its pace (at most 64 segments a second over all streams: keep it above a ' +
      'sixty-fourth of the write rate); recovery reads through the last segment only, so this bounds ' +
      'start-up time too.',
  }),
  durableMaxOpenStreams: integer({
    env: 'FELIX_DURABLE_MAX_OPEN_STREAMS',
    default: 0,
    min: 0,
    max: 1_000_000,
    unit: 'streams',
    zeroMeans:
      "derived from the process's soft open-file limit (ulimit -n): a quarter of it (at least 64) is left " +
      'for sockets and readers, the rest allows two files per stream, 16 to 4096 streams (64 when the ' +
      'limit cannot be read)',
    doc:
      'Most durable streams whose write files (the segment being written, the producer journal) are open ' +
      'at once. Past it the least recently written idle stream closes its files — after an fsync of what ' +
      'it wrote, under an fsync policy — and reopens them on its next write, so any number of durable ' +
      'streams runs within the open-file limit. Each costs up to two file descriptors. Raise it (with ulimit ' +
      '-n) when more streams than this are written all the time: each write to a closed stream costs an open.',
  }),
  dedupWindowMs: duration({
    env: 'FELIX_DEDUP_WINDOW_MS',
    default: 120_000,
    min: 0,
    max: 86_400_000,
    zeroMeans:
      'keeps no producer state and does not advertise IDEMPOTENT_PUBLISH: a retried publish is appended again',
    doc:
      'How long the broker remembers a publishing producer (an SDK publish worker: producer_id and the ' +
      'sequences of its acked publishes) after its last publish. A retry within it, such as a publish ' +
      'resent after a reconnect, is acknowledged again and not appended twice; a retry arriving after it ' +
      'is appended again. Outlive the longest outage clients ride out, within memory.',
  }),
  dedupMaxProducers: integer({
    env: 'FELIX_DEDUP_MAX_PRODUCERS',
    default: 100_000,
    min: 1,
    max: 10_000_000,
    unit: 'producers',
    doc:
      'Producers whose sequences the broker remembers at once (each costs about 100 bytes, 600 while ' +
      'its publishes arrive out of order); beyond it the least recently used producer of the tenant ' +
      'holding the most is forgotten first (so no tenant can push out the producers of another), and a ' +
      'retry of its publishes would be appended again.',
  }),
  cacheMaxBytes: byteSize({
    env: 'FELIX_CACHE_MAX_BYTES',
    default: 256 * MiB,
    min: MiB,
    max: TiB,
    doc:
      'Memory the cache may hold for keys and values, across all caches of all tenants. A write that would ' +
      'exceed it first removes entries whose TTL has passed, then evicts live entries of the tenant ' +
      'holding the most, least recently used first (one tenant ' +
      'filling the cache evicts its own entries, never a smaller share of another; with one tenant, plain ' +
      'LRU). The cache lives in memory only: a restart empties it. It must hold the largest entry the ' +
      'limits allow (FELIX_CACHE_MAX_KEY_BYTES plus FELIX_CACHE_MAX_VALUE_BYTES plus its path and ' +
      'bookkeeping, a rule between settings checked at start-up), so the 1 MiB minimum is reachable only ' +
      'with smaller key and value limits: with their defaults anything under ' +
      `${CACHE_MAX_BYTES_SMALLEST_BY_DEFAULT} bytes ` +
      `(about ${(CACHE_MAX_BYTES_SMALLEST_BY_DEFAULT / MiB).toFixed(2)} MiB) is refused.`,
  }),
  cacheMaxKeyBytes: byteSize({
    env: 'FELIX_CACHE_MAX_KEY_BYTES',
    default: CACHE_MAX_KEY_DEFAULT,
    min: 1,
    max: 64 * KiB,
    doc: 'Longest cache key (UTF-8 bytes) accepted; a longer one is refused with an error.',
  }),
  cacheMaxValueBytes: byteSize({
    env: 'FELIX_CACHE_MAX_VALUE_BYTES',
    default: CACHE_MAX_VALUE_DEFAULT,
    min: 1,
    max: LARGEST_CACHE_VALUE_BYTES,
    doc: 'Largest cache value accepted; a larger put is refused with an error rather than evicting half the cache.',
  }),
  cacheExpiryKeysPerTick: integer({
    env: 'FELIX_CACHE_EXPIRY_KEYS_PER_TICK',
    default: 512,
    min: 1,
    max: 1_000_000,
    unit: 'keys',
    doc:
      'Entries the background expiry examines per tick. Expired entries are also dropped when read; ' +
      'this bounds the work, and so the pause, each tick adds to the event loop.',
  }),
  cacheExpiryTickMs: duration({
    env: 'FELIX_CACHE_EXPIRY_TICK_MS',
    default: 100,
    min: 1,
    max: 60_000,
    doc: 'Interval between background expiry ticks. Shorter frees the memory of expired entries sooner.',
  }),
  dashboardLatencyBandsUs: {
    // text() leaves a string unset by default; this one has a default, which the dashboard colours by.
    ...text({
      env: 'FELIX_DASHBOARD_LATENCY_BANDS_US',
      pattern: /^[1-9]\d{0,8},[1-9]\d{0,8},[1-9]\d{0,8}$/,
      describe: '3 ascending integers (µs), e.g. 250,1000,5000',
      doc:
        'Latency bands of the live dashboard (/dashboard on FELIX_BROKER_METRICS_BIND): its list of recent ' +
        'sampled publishes colours each per-hop time by its band: below the first threshold (fast), below ' +
        'the second, below the third, or at or above the third (slow). Display only: it changes nothing ' +
        'the broker does.',
    }),
    default: '250,1000,5000',
  },
  shutdownDrainTimeoutMs: duration({
    env: 'FELIX_SHUTDOWN_DRAIN_TIMEOUT_MS',
    default: 25_000,
    min: 0,
    max: 3_600_000,
    zeroMeans: 'closes connections at once without draining',
    doc:
      'On SIGTERM or SIGINT the broker stops accepting, reports not ready, and lets in-flight work finish ' +
      'for at most this long before closing what remains. Keep it under the platform kill deadline ' +
      "(Kubernetes' terminationGracePeriodSeconds defaults to 30 s). Events a subscriber has not taken " +
      'by then are lost with the close; a warning says how many (eventsQueued, eventsInTransport).',
  }),
});

const brokerSections = { tenants: tenantsSection };

export type BrokerConfig = SettingsOf<typeof brokerSettings> & SectionsOf<typeof brokerSections>;

function latencyBandsAscend(bands: string | null): boolean {
  const thresholds = (bands ?? '').split(',').map(Number);
  return thresholds.every((value, i) => i === 0 || value > thresholds[i - 1]!);
}

const brokerChecks: readonly CrossCheck<BrokerConfig>[] = [
  keepAliveBelowIdleTimeout(),
  streamWithinConnectionWindow(brokerSettings, 'broker'),
  fitsWithReserve(
    brokerSettings,
    'eventBatchMaxBytes',
    FRAME_ENVELOPE_RESERVE_BYTES,
    'maxFrameBytes',
    'a full event batch and its frame envelope must fit in one frame',
  ),
  notAbove(
    brokerSettings,
    'brokerPublishConnInflightBytes',
    'brokerPublishInflightBytes',
    "one connection's share cannot be larger than the whole budget",
  ),
  notAbove(
    brokerSettings,
    'maxFrameBytes',
    'connPartialFrameBytes',
    'one frame of the largest allowed size must be able to arrive on a connection',
  ),
  notAbove(
    brokerSettings,
    'connPartialFrameBytes',
    'partialFrameBytes',
    "one connection's share cannot be larger than the whole bound",
  ),
  shareBetween(
    brokerSettings,
    'tenantPartialFrameBytes',
    'connPartialFrameBytes',
    'partialFrameBytes',
    "a tenant's share lies between one connection's and the whole bound",
  ),
  shareBetween(
    brokerSettings,
    'brokerPublishTenantInflightBytes',
    'brokerPublishConnInflightBytes',
    'brokerPublishInflightBytes',
    "a tenant's share lies between one connection's and the whole budget",
  ),
  notAbove(
    brokerSettings,
    'maxFrameBytes',
    'brokerPublishConnInflightBytes',
    "a publish frame of the largest allowed size must fit one connection's budget, or it could never be admitted",
  ),
  {
    settings: ['cacheMaxKeyBytes', 'cacheMaxValueBytes', 'maxFrameBytes'],
    rule:
      `FELIX_CACHE_MAX_KEY_BYTES plus FELIX_CACHE_MAX_VALUE_BYTES in base64 plus ${FRAME_ENVELOPE_RESERVE_BYTES} ` +
      'bytes must not exceed FELIX_MAX_FRAME_BYTES: the largest cache entry must fit one frame even for JSON ' +
      'peers, which carry values in base64',
    holds: (c) =>
      c.cacheMaxKeyBytes + base64Length(c.cacheMaxValueBytes) + FRAME_ENVELOPE_RESERVE_BYTES <=
      c.maxFrameBytes,
  },
  {
    settings: ['cacheMaxKeyBytes', 'cacheMaxValueBytes', 'cacheMaxBytes'],
    rule:
      'FELIX_CACHE_MAX_KEY_BYTES plus FELIX_CACHE_MAX_VALUE_BYTES plus what an entry costs besides ' +
      `(its tenant/namespace/cache path, at most ${CACHE_PATH_MAX_BYTES} bytes, and ` +
      `${CACHE_ENTRY_OVERHEAD_BYTES} bytes of bookkeeping) must not exceed FELIX_CACHE_MAX_BYTES: an entry ` +
      'the limits allow must fit in the cache',
    holds: (c) =>
      c.cacheMaxKeyBytes + c.cacheMaxValueBytes + CACHE_PATH_MAX_BYTES + CACHE_ENTRY_OVERHEAD_BYTES <=
      c.cacheMaxBytes,
  },
  {
    settings: ['dashboardLatencyBandsUs'],
    rule:
      'the thresholds of FELIX_DASHBOARD_LATENCY_BANDS_US must ascend: each band starts where the one ' +
      'before it ends',
    holds: (c) => latencyBandsAscend(c.dashboardLatencyBandsUs),
  },
  {
    settings: ['tlsCert', 'tlsKey'],
    rule: 'FELIX_TLS_CERT and FELIX_TLS_KEY must be set together: a certificate is useless without its key',
    holds: (c) => (c.tlsCert === null) === (c.tlsKey === null),
  },
  {
    settings: ['auth', 'authJwks'],
    rule: 'FELIX_AUTH=jwt needs FELIX_AUTH_JWKS: without keys no token could verify',
    holds: (c) => c.auth !== 'jwt' || c.authJwks !== null,
  },
  {
    settings: ['auth', 'authJwks'],
    rule: 'FELIX_AUTH=none cannot be set together with FELIX_AUTH_JWKS: the keys would be ignored',
    holds: (c) => c.auth !== 'none' || c.authJwks === null,
  },
  {
    settings: ['authIssuer', 'authJwks'],
    rule: 'FELIX_AUTH_ISSUER needs FELIX_AUTH_JWKS: without keys no token is verified, so nothing checks the issuer',
    holds: (c) => c.authIssuer === null || c.authJwks !== null,
  },
  {
    settings: ['authAudience', 'authJwks'],
    rule: 'FELIX_AUTH_AUDIENCE needs FELIX_AUTH_JWKS: without keys no token is verified, so nothing checks the audience',
    holds: (c) => c.authAudience === null || c.authJwks !== null,
  },
  {
    settings: ['durableStorageDir', 'durableDefault', 'tenants'],
    rule:
      'durable streams (FELIX_DURABLE_DEFAULT or `durable: true` in the YAML tenants block) need ' +
      'FELIX_DURABLE_STORAGE_DIR: the directory their logs are kept in',
    holds: (c) =>
      c.durableStorageDir !== null ||
      (!c.durableDefault && c.tenants.every((t) => t.namespaces.every((ns) => ns.durable === undefined))),
  },
  {
    settings: ['autoCreateStreams', 'tenants'],
    rule:
      'with FELIX_AUTO_CREATE_STREAMS off, the YAML file must declare tenants: otherwise the broker would ' +
      'refuse every request',
    holds: (c) => c.autoCreateStreams || c.tenants.length > 0,
  },
];

export const brokerSide = defineSide({
  side: 'broker',
  settings: brokerSettings,
  sections: brokerSections,
  checks: brokerChecks,
});
