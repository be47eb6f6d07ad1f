// A protocol-level client for broker tests: real QUIC and the wire codec, no SDK, so tests can send
// exactly the frames they mean (including broken ones) and see exactly what comes back.
import { afterEach } from 'vitest';
import { Endpoint, type Connection, type Stream, type TransportSettings } from '../../transport/index.js';
import {
  FrameDecoder,
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  WireError,
  decodeFramePayload,
  encodeMessage,
  type BinaryEventBatch,
  type DecodedFrame,
} from '../../wire/index.js';
import { BrokerNode } from '../../broker/node.js';
import { loadBrokerConfig } from '../../broker/config.js';
import { pino } from 'pino';

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

export async function startBroker(env: Record<string, string> = {}): Promise<BrokerNode> {
  const { config } = loadBrokerConfig({
    env: { FELIX_QUIC_BIND: '127.0.0.1:0', FELIX_BROKER_METRICS_BIND: '127.0.0.1:0', ...env },
  });
  const node = await BrokerNode.start(config, { logger: pino({ level: 'silent' }) });
  opened.push({ close: () => node.stop() });
  return node;
}

export async function connectRaw(
  node: BrokerNode | { quicAddress: { port: number } },
  settings: Partial<TransportSettings> = {},
): Promise<Connection> {
  const endpoint = await Endpoint.client({ host: '127.0.0.1', port: node.quicAddress.port, settings });
  opened.push({ close: () => endpoint.close({ timeoutMs: 100 }) });
  return endpoint.connect();
}

/** A stream whose every decoded frame (or wire error) lands in `frames`. */
export class RawStream {
  readonly frames: (DecodedFrame | WireError)[] = [];
  /** The header flags of each frame in `frames` (-1 for a wire error). */
  readonly flags: number[] = [];
  ended = false;
  resetCode: number | null = null;
  private readonly decoder = new FrameDecoder({
    onFrame: (flags, payload) => {
      this.flags.push(flags);
      this.frames.push(decodeFramePayload(flags, Buffer.from(payload)));
    },
    onError: (e) => {
      this.flags.push(-1);
      this.frames.push(e);
    },
  });

  constructor(readonly stream: Stream) {
    stream.onData = (chunk, fin) => {
      this.decoder.push(chunk);
      if (fin) this.ended = true;
    };
    stream.onReset = (code) => {
      this.resetCode = code;
      this.ended = true;
    };
  }

  static async open(conn: Connection, auth: Record<string, unknown> | null = {}): Promise<RawStream> {
    const raw = new RawStream(conn.openStream());
    if (auth !== null) {
      raw.send({
        type: 'auth',
        tenant_id: 't1',
        token: 'x',
        client_flags: KNOWN_FLAGS & ~0x40,
        client_features: KNOWN_FEATURES,
        ...auth,
      });
      await raw.next();
    }
    return raw;
  }

  send(message: Record<string, unknown>): void {
    this.stream.write(encodeMessage(message as never));
  }

  write(bytes: Uint8Array): void {
    this.stream.write(bytes);
  }

  /** Waits for the next unread frame. */
  async next(): Promise<DecodedFrame | WireError> {
    await until(() => this.frames.length > this.read, 'a frame from the broker');
    return this.frames[this.read++]!;
  }

  private read = 0;
}

export function until(predicate: () => boolean, what: string, limitMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      let met: boolean;
      try {
        met = predicate();
      } catch (error) {
        // The wait fails with the predicate's error, instead of leaving it uncaught in a timer.
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (met) resolve();
      else if (Date.now() - started > limitMs) reject(new Error(`gave up waiting for ${what}`));
      else setTimeout(tick, 2);
    };
    tick();
  });
}

/** The payloads, as text, of the binary event batches a raw event stream received so far. */
export function eventTexts(stream: RawStream): string[] {
  const out: string[] = [];
  for (const f of stream.frames) {
    if (f instanceof WireError || f.type !== 'binary_event_batch') continue;
    for (const p of (f as BinaryEventBatch).payloads) out.push(Buffer.from(p).toString());
  }
  return out;
}

/** Collects the event streams the broker opens on `conn`, keyed by the subscription id of their hello. */
export function eventStreams(conn: Connection): Map<number, RawStream> {
  const byId = new Map<number, RawStream>();
  conn.onStream = (s) => {
    const raw = new RawStream(s);
    const bind = (): void => {
      const hello = raw.frames[0];
      if (hello !== undefined && 'type' in hello && hello.type === 'event_stream_hello')
        byId.set(hello.subscription_id, raw);
      else setTimeout(bind, 1);
    };
    bind();
  };
  return byId;
}
