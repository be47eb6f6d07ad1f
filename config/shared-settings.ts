import { byteSize, duration, flag, integer, oneOf, type Setting, type SettingsSchema } from './setting.js';
import type { CrossCheck } from './side.js';
import { GiB, KiB, MiB } from './units.js';

/** FLX1 frames carry a u32 payload length. */
export const MAX_FRAME_LIMIT = 2 ** 32 - 1;

/** Tenant, namespace, stream and cache names are at most this long, so a frame's envelope is bounded. */
export const MAX_NAME_BYTES = 255;

/** What a full subscription queue does, on the broker and in the client alike. */
export const QUEUE_POLICIES = ['block', 'drop_new', 'drop_old'] as const;

/**
 * Room every frame keeps beside its payload budget: the 12-byte FLX1 header plus the largest binary
 * publish envelope (request id 8, ack mode 1, three u16-prefixed names of MAX_NAME_BYTES, count 4),
 * 796 bytes, rounded up.
 */
export const FRAME_ENVELOPE_RESERVE_BYTES = 1024;

// The transport keeps windows below 4 GiB: quiche takes them as i64 through the binding, and Node
// numbers stay exact far beyond that, but no window this machine can back needs more.
const WINDOW_MAX = 4 * GiB;

export const sharedSettings = {
  maxFrameBytes: byteSize({
    env: 'FELIX_MAX_FRAME_BYTES',
    default: 16 * MiB,
    min: 4 * KiB,
    max: MAX_FRAME_LIMIT,
    doc:
      'Largest FLX1 frame payload accepted on any stream. A longer frame is refused from its header: its ' +
      'payload is read and discarded without being buffered, the sender gets an error (limit_exceeded) and ' +
      'the stream carries on with the next frame. Publish chunks, ' +
      'event batches and cache values must fit in it with room for their envelope (see the rules below: ' +
      'below 65 KiB, lower FELIX_EVENT_BATCH_MAX_BYTES and FELIX_PUBLISH_CHUNK_BYTES with it, or the broker ' +
      'and clients refuse to start). ' +
      'Keep it equal on broker and clients: a frame one side may send and the other refuses is lost.',
  }),
  maxUdpPayload: byteSize({
    env: 'FELIX_MAX_UDP_PAYLOAD',
    default: 1350,
    min: 1200,
    max: 16_383,
    doc:
      'Largest UDP payload sent to a non-loopback peer (quiche max_send_udp_payload_size). 1350 fits the ' +
      'usual 1500-byte Ethernet MTU with IPv6 and tunnel headers; raise it only on paths known to carry ' +
      'larger datagrams. QUIC forbids less than 1200 bytes, and quiche never builds a packet above 16383 ' +
      'bytes (its length field stays a 2-byte varint). Loopback peers get FELIX_LOOPBACK_UDP_PAYLOAD ' +
      'instead.',
  }),
  loopbackUdpPayload: byteSize({
    env: 'FELIX_LOOPBACK_UDP_PAYLOAD',
    default: 16_383,
    min: 1200,
    max: 16_383,
    doc:
      'Largest UDP payload sent to a loopback peer. Loopback carries 64 KiB datagrams, and fewer, larger ' +
      "packets cost far less CPU, so the default is quiche's largest packet. Set 1350 to make a loopback " +
      'run behave as a real network path does (the packet counts, and the loss and pacing behaviour, of ' +
      'FELIX_MAX_UDP_PAYLOAD): benchmarks and impairment tests use it to report the WAN figure beside ' +
      "loopback's.",
  }),
  udpSendBuffer: byteSize({
    env: 'FELIX_UDP_SEND_BUFFER',
    default: 8 * MiB,
    min: 64 * KiB,
    max: GiB,
    doc:
      'Requested SO_SNDBUF of the UDP socket. The kernel may grant less (net.core.wmem_max). Too small a ' +
      'buffer drops datagrams under bursts, which QUIC then retransmits. At most 1 GiB because Linux ' +
      'doubles the request and stores it in an int.',
  }),
  udpRecvBuffer: byteSize({
    env: 'FELIX_UDP_RECV_BUFFER',
    default: 8 * MiB,
    min: 64 * KiB,
    max: GiB,
    doc:
      'Requested SO_RCVBUF of the UDP socket. The kernel may grant less (net.core.rmem_max). With large ' +
      'datagrams on loopback a small receive buffer overflows and turns into loss and retransmission. ' +
      'At most 1 GiB because Linux doubles the request and stores it in an int.',
  }),
  cc: oneOf({
    env: 'FELIX_CC',
    values: ['cubic', 'reno', 'bbr'],
    default: 'cubic',
    doc:
      "Congestion controller quiche runs for every connection. cubic is quiche's default; reno measured " +
      'fastest on an idle loopback; bbr kept zero loss under load. Only the sending side matters: the ' +
      "broker's choice governs events, the client's governs publishes and cache requests.",
  }),
  udpGso: oneOf({
    env: 'FELIX_UDP_GSO',
    values: ['auto', 'off'],
    default: 'auto',
    doc:
      "UDP segmentation offload (Linux UDP_SEGMENT). auto: a run of one connection's equal-sized packets " +
      'leaves in one sendmsg and the kernel cuts it into datagrams, one system call and one pass through ' +
      'the network stack instead of one per datagram (the bulk of the cost at 1350-byte datagrams); used ' +
      'on Linux x64 wherever the kernel takes it, and switched off by itself at the first segmented send ' +
      'the kernel refuses. off: every datagram goes through Node (dgram) as before.',
  }),
  udpRecvmmsg: oneOf({
    env: 'FELIX_UDP_RECVMMSG',
    values: ['auto', 'off'],
    default: 'auto',
    doc:
      'Batched UDP receive (Linux recvmmsg). auto: every datagram waiting on the socket is read in one ' +
      "system call into one reused buffer, instead of Node's read, Buffer and JavaScript callback per " +
      'datagram (about 0.6 against 2.4 µs of CPU each, and no per-datagram garbage); used on Linux x64, ' +
      "and handed back to Node at the first read error it cannot pass. off: Node's dgram reads the socket.",
  }),
  idleTimeoutMs: duration({
    env: 'FELIX_IDLE_TIMEOUT_MS',
    envAliases: ['FELIX_MAX_IDLE_TIMEOUT_MS'],
    default: 30_000,
    min: 0,
    max: 86_400_000,
    zeroMeans: 'disables the idle timeout',
    doc:
      'QUIC max_idle_timeout: a connection with no packets in either direction for this long is closed. ' +
      'It is how a peer that vanished without closing (killed process, lost network) is noticed, so ' +
      'shorter frees resources sooner, while a connection serving a quiet subscription must stay under it.',
  }),
  keepaliveMs: duration({
    env: 'FELIX_KEEPALIVE_MS',
    default: 10_000,
    min: 0,
    max: 86_400_000,
    zeroMeans:
      'sends no keep-alives (and a quiet stream the peer stopped is heard of only at its next write)',
    doc:
      'A connection that sent nothing for this long sends a PING, so a quiet but live connection (a ' +
      'subscription waiting for events) outlives FELIX_IDLE_TIMEOUT_MS while a vanished peer is still ' +
      'noticed. Checked every half interval, which is also when quiet streams the peer stopped ' +
      "(STOP_SENDING) are heard of (but for a subscription's control stream, whose stop the broker hears " +
      'as it reads it). Must be below the idle timeout when both are on.',
  }),
  logLevel: oneOf({
    env: 'FELIX_LOG_LEVEL',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    doc: 'Lowest pino level written to the log; silent writes nothing.',
  }),
  disableTimings: flag({
    env: 'FELIX_DISABLE_TIMINGS',
    default: false,
    profiles: { 'high-memory': true },
    doc:
      'Turns off per-stage timing collection (publish, fanout, delivery and cache histograms exported as ' +
      'metrics), which costs clock reads and histogram updates on every message.',
  }),
  cacheStreamMaxInflight: integer({
    env: 'FELIX_CACHE_STREAM_MAX_INFLIGHT',
    default: 64,
    min: 1,
    max: 65_536,
    unit: 'requests',
    doc:
      'Cache requests in flight at once on one cache stream. The client stops sending on a stream that has ' +
      'this many unanswered requests; the broker stops reading a stream while it is processing this many, ' +
      'so QUIC flow control pushes back on the sender.',
  }),
} satisfies SettingsSchema;

type WindowPrefix = 'broker' | 'event' | 'cache' | 'pub';
type WindowKeys<P extends WindowPrefix> = `${P}ConnRecvWindow` | `${P}StreamRecvWindow` | `${P}SendWindow`;

const HIGH_MEMORY_WINDOWS = { conn: 512 * MiB, stream: 128 * MiB, send: 512 * MiB };

/**
 * The three flow-control knobs of one family of connections. `traffic` completes "…on <traffic>"; the
 * balanced defaults are Felix's; high-memory uses the same windows for every family (DESIGN §4).
 */
export function windowSettings<P extends WindowPrefix>(
  prefix: P,
  traffic: string,
  defaults: { readonly conn: number; readonly stream: number; readonly send: number },
  /** What the send window means besides, on this side (appended to its doc). */
  sendNote = '',
): Record<WindowKeys<P>, Setting<number>> {
  const env = `FELIX_${prefix.toUpperCase()}` as const;
  return {
    [`${prefix}ConnRecvWindow`]: byteSize({
      env: `${env}_CONN_RECV_WINDOW`,
      default: defaults.conn,
      profiles: { 'high-memory': HIGH_MEMORY_WINDOWS.conn },
      min: 16 * KiB,
      max: WINDOW_MAX,
      doc:
        `Connection receive window on ${traffic}: the initial MAX_DATA granted to the peer and the ceiling ` +
        "quiche's window auto-tuning may grow it to. It bounds the bytes the peer may have in flight on one " +
        'connection before they are read: larger absorbs bursts, at the cost of up to this much memory per connection. ' +
        "The ceiling is never below 1.5 × the stream window: quiche keeps the connection's window there, and a " +
        'lower ceiling made it take back credit it had granted (the peer then failed with FLOW_CONTROL_ERROR).',
    }),
    [`${prefix}StreamRecvWindow`]: byteSize({
      env: `${env}_STREAM_RECV_WINDOW`,
      default: defaults.stream,
      profiles: { 'high-memory': HIGH_MEMORY_WINDOWS.stream },
      min: KiB,
      max: WINDOW_MAX,
      doc:
        `Stream receive window on ${traffic}: the initial MAX_STREAM_DATA of every stream and its ` +
        'auto-tuning ceiling. It bounds the unread bytes of one stream, so one busy stream cannot take the ' +
        'whole connection window.',
    }),
    [`${prefix}SendWindow`]: byteSize({
      env: `${env}_SEND_WINDOW`,
      default: defaults.send,
      profiles: { 'high-memory': HIGH_MEMORY_WINDOWS.send },
      min: 0,
      max: WINDOW_MAX,
      zeroMeans: 'means nothing is queued beyond what quiche accepts',
      doc:
        `Send window on ${traffic}: bytes a connection may hold queued for sending beyond what quiche has ` +
        'accepted. Writers that would exceed it wait, which is where backpressure starts.' +
        sendNote,
    }),
  } as Record<WindowKeys<P>, Setting<number>>;
}

/** quiche caps every stream window at the connection window, so a larger stream window is a lie. */
export function streamWithinConnectionWindow<P extends WindowPrefix, C extends Record<WindowKeys<P>, number>>(
  settings: SettingsSchema,
  prefix: P,
): CrossCheck<C> {
  const stream: WindowKeys<P> = `${prefix}StreamRecvWindow`;
  const connection: WindowKeys<P> = `${prefix}ConnRecvWindow`;
  return {
    settings: [stream, connection],
    rule:
      `${settings[stream].env} must not exceed ${settings[connection].env}: ` +
      'a stream can never use more than its connection window',
    holds: (config) => config[stream] <= config[connection],
  };
}

/** A keep-alive at or after the idle timeout would never keep anything alive. */
export function keepAliveBelowIdleTimeout<
  C extends { keepaliveMs: number; idleTimeoutMs: number },
>(): CrossCheck<C> {
  return {
    settings: ['keepaliveMs', 'idleTimeoutMs'],
    rule: 'FELIX_KEEPALIVE_MS must be below FELIX_IDLE_TIMEOUT_MS when both are on: a later keep-alive keeps nothing alive',
    holds: (c) => c.keepaliveMs === 0 || c.idleTimeoutMs === 0 || c.keepaliveMs < c.idleTimeoutMs,
  };
}

const eventWindowSettings = windowSettings('event', "the client's event connections", {
  conn: 256 * MiB,
  stream: 64 * MiB,
  send: 256 * MiB,
});

/**
 * The event windows. The send window is read by both sides: the broker bounds the bytes it queues for
 * each subscription's event stream with it, the client the bytes its event connections queue.
 */
export const eventWindows = {
  ...eventWindowSettings,
  eventSendWindow: byteSize({
    env: 'FELIX_EVENT_SEND_WINDOW',
    default: 256 * MiB,
    profiles: { 'high-memory': HIGH_MEMORY_WINDOWS.send },
    min: 0,
    max: WINDOW_MAX,
    zeroMeans: 'means the broker queues nothing for a subscriber beyond what quiche accepts',
    doc:
      "Event send window. On the broker: bytes queued for one subscription's event stream beyond what quiche " +
      'has accepted (and, once it holds any, none more while its connection is over FELIX_BROKER_SEND_WINDOW); ' +
      "past it the subscription's own queue (FELIX_SUB_QUEUE_CAPACITY) fills and its " +
      'FELIX_SUB_QUEUE_POLICY applies, so it is the burst a subscriber absorbs before blocking or drops. ' +
      'Capped on the broker at a quarter of FELIX_SUB_QUEUE_MAX_BYTES, so that what waits in the transport ' +
      'never hides a slow subscriber from its bound. A subscription whose stream passed nothing on for a ' +
      'second (its client stopped reading, or vanished) gets at most 64 KiB there until the stream moves ' +
      'again: its events wait in its queue, a pointer each. On the client: bytes its event connections may hold ' +
      'queued for sending.',
  }),
};
