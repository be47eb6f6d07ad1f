import { fitsWithReserve, notAbove } from './checks.js';
import {
  bindAddress,
  byteSize,
  defineSettings,
  duration,
  filePath,
  flag,
  integer,
  oneOf,
  text,
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
import { defineSide, type CrossCheck, type SectionsOf } from './side.js';
import { tenantsSection } from './tenants.js';
import { KiB, MiB, TiB } from './units.js';

const QUEUE_POLICY_DOC =
  'block makes the producer wait for room (nothing is lost, a slow consumer slows its producers); ' +
  'drop_new discards the event that does not fit; drop_old discards the oldest queued event to make room. ' +
  'Every event carries its stream offset, so a subscriber sees the gap a drop leaves.';

const brokerSettings = defineSettings({
  quicBind: bindAddress({
    env: 'FELIX_QUIC_BIND',
    default: '0.0.0.0:5000',
    doc: 'UDP address the QUIC listener binds. Clients connect here.',
  }),
  brokerMetricsBind: bindAddress({
    env: 'FELIX_BROKER_METRICS_BIND',
    default: '0.0.0.0:8080',
    doc: 'TCP address of the HTTP server answering /live, /ready, /metrics (Prometheus) and /dashboard (the live view).',
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
  ...sharedSettings,
  eventSendWindow: eventWindows.eventSendWindow,
  ...windowSettings('broker', 'every connection the broker accepts', {
    conn: 256 * MiB,
    stream: 64 * MiB,
    send: 256 * MiB,
  }),
  eventBatchMaxEvents: integer({
    env: 'FELIX_EVENT_BATCH_MAX_EVENTS',
    default: 64,
    min: 1,
    max: 65_536,
    unit: 'events',
    doc:
      'Most events sent to one subscription in one batch frame. A batch is sent as soon as it is full, ' +
      'reaches FELIX_EVENT_BATCH_MAX_BYTES, or has waited FELIX_EVENT_BATCH_MAX_DELAY_US. 1 sends every ' +
      'event on its own (lowest latency, most frames).',
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
    zeroMeans: 'sends what is pending at once, without waiting for more',
    doc:
      'Longest time the first event of a batch waits for others to join it. Trades latency for fewer, ' +
      'fuller frames; it only matters when events arrive slower than FELIX_EVENT_BATCH_MAX_EVENTS fill a batch.',
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
    default: 512,
    min: 1,
    max: 1_048_576,
    unit: 'events',
    doc:
      "Events queued in the broker for one subscription while its connection's send window is full. " +
      'When the queue is full, FELIX_SUB_QUEUE_POLICY decides what happens.',
  }),
  subQueuePolicy: oneOf({
    env: 'FELIX_SUB_QUEUE_POLICY',
    values: QUEUE_POLICIES,
    default: 'drop_new',
    doc: `What a full subscription queue does with the next event. ${QUEUE_POLICY_DOC}`,
  }),
  slowSubMaxDrops: integer({
    env: 'FELIX_SLOW_SUB_MAX_DROPS',
    default: 0,
    min: 0,
    max: 1_000_000_000,
    unit: 'events',
    zeroMeans: 'never disconnects for drops',
    doc:
      'Events a subscription may lose to its queue policy before the broker ends it with an error, so a ' +
      'consumer that cannot keep up learns so instead of silently seeing most events missing.',
  }),
  slowSubMaxFullMs: duration({
    env: 'FELIX_SLOW_SUB_MAX_FULL_MS',
    default: 30_000,
    min: 0,
    max: 3_600_000,
    zeroMeans: 'never disconnects for a full queue',
    doc:
      'How long a subscription queue may stay full without draining before the broker ends the ' +
      'subscription with an error. Under the block policy this is what frees the publishers a stuck ' +
      'subscriber is holding up.',
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
      'read until room frees, so the publisher feels QUIC flow control.',
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
  autoCreateStreams: flag({
    env: 'FELIX_AUTO_CREATE_STREAMS',
    default: true,
    doc:
      'When on, a publish, subscribe or cache request naming an unknown tenant, namespace, stream or ' +
      'cache creates it. When off, only what the YAML `tenants:` block declares exists and anything else ' +
      'is refused, which catches misspelt names.',
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
      'offset. Costs up to this many payloads per stream.',
  }),
  cacheMaxBytes: byteSize({
    env: 'FELIX_CACHE_MAX_BYTES',
    default: 256 * MiB,
    min: MiB,
    max: TiB,
    doc:
      'Memory the cache may hold for keys and values, across all caches. A write that would exceed it ' +
      'evicts the least recently used entries first.',
  }),
  cacheMaxKeyBytes: byteSize({
    env: 'FELIX_CACHE_MAX_KEY_BYTES',
    default: 4 * KiB,
    min: 1,
    max: 64 * KiB,
    doc: 'Longest cache key (UTF-8 bytes) accepted; a longer one is refused with an error.',
  }),
  cacheMaxValueBytes: byteSize({
    env: 'FELIX_CACHE_MAX_VALUE_BYTES',
    default: 4 * MiB,
    min: 1,
    max: 3 * 1024 * MiB,
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
      "(Kubernetes' terminationGracePeriodSeconds defaults to 30 s).",
  }),
});

const brokerSections = { tenants: tenantsSection };

export type BrokerConfig = SettingsOf<typeof brokerSettings> & SectionsOf<typeof brokerSections>;

/** JSON peers carry cache values in base64, four bytes for every three. */
function base64Length(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}

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
      'FELIX_CACHE_MAX_KEY_BYTES plus FELIX_CACHE_MAX_VALUE_BYTES must not exceed FELIX_CACHE_MAX_BYTES: ' +
      'an entry the limits allow must fit in the cache',
    holds: (c) => c.cacheMaxKeyBytes + c.cacheMaxValueBytes <= c.cacheMaxBytes,
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
