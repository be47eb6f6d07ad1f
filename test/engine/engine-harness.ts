/**
 * The broker's engine without sockets, for the engine suites: a Broker from environment-style settings, a
 * logger that keeps what the broker reports at warn and above, client connections served by the real
 * ConnectionSession over in-memory streams, and decoding of what a stream received.
 */
import { pino, type Logger } from 'pino';
import { afterEach, expect } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { Broker } from '../../broker/core/broker.js';
import { ConnectionSession } from '../../broker/quic/connection-session.js';
import {
  FLAG_TIMINGS,
  FrameDecoder,
  KNOWN_FLAGS,
  decodeFramePayload,
  encodeJsonMessage,
  type DecodedFrame,
  type Message,
} from '../../wire/index.js';
import type { Answer } from './answer-model.js';
import { MemoryConnection, type MemoryStream } from './memory-stream.js';

export interface EngineBroker {
  readonly broker: Broker;
  /** Log lines at warn and above (JSON, as pino writes them). */
  readonly logs: string[];
}

/** A broker configured as FELIX_* variables would configure it (nothing is read from process.env). */
export function createBroker(env: Record<string, string> = {}): EngineBroker {
  const { config } = loadBrokerConfig({ env });
  const logs: string[] = [];
  const logger: Logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(line) });
  return { broker: new Broker(config, logger), logs };
}

/** The flags the broker advertises in auth_ok. */
export function serverFlags(broker: Broker): number {
  return broker.timings === null ? KNOWN_FLAGS & ~FLAG_TIMINGS : KNOWN_FLAGS;
}

/** One client connection, served by the broker's own ConnectionSession. */
export class EngineConnection {
  readonly peer = new MemoryConnection();
  readonly session: ConnectionSession;

  constructor(
    readonly broker: Broker,
    sameHost = true,
  ) {
    this.session = new ConnectionSession(broker, this.peer, sameHost);
    this.peer.onStream = (stream) => this.session.onStream(stream);
  }

  /** A new client-opened bidirectional stream. */
  stream(): MemoryStream {
    return this.peer.openClientStream(true);
  }

  /** A new stream that has sent `auth` (tenant t1 unless given). */
  authedStream(auth: Partial<Extract<Message, { type: 'auth' }>> = {}): MemoryStream {
    const s = this.stream();
    s.clientWrite(encodeJsonMessage({ type: 'auth', tenant_id: 't1', token: 'x', ...auth }));
    return s;
  }

  /** The connection went away (the transport's onClose): the session releases everything. */
  dispose(): void {
    this.session.dispose();
  }
}

/** Every complete frame `bytes` holds, decoded; bytes of an unfinished frame at the end are left out. */
export function decodeAnswers(bytes: Uint8Array): Answer[] {
  const out: Answer[] = [];
  const decoder = new FrameDecoder(
    {
      onFrame: (flags, payload) => {
        try {
          out.push({ flags, frame: decodeFramePayload(flags, Buffer.from(payload)) });
        } catch (err) {
          out.push({ flags, frame: null, undecodable: String(err) });
        }
      },
      onError: (err) => out.push({ flags: -1, frame: null, undecodable: `framing: ${err.message}` }),
    },
    { maxFrameBytes: 0xffffffff },
  );
  decoder.push(bytes);
  return out;
}

/** The decoded frames a stream received. */
export function framesOf(stream: MemoryStream): DecodedFrame[] {
  return decodeAnswers(stream.received()).map((a) => {
    if (a.frame === null)
      throw new Error(`stream ${stream.id} received an undecodable frame: ${a.undecodable}`);
    return a.frame;
  });
}

/** Lets work the broker queued for later turns run (batch cuts on nextTick/setImmediate, resumed reads). */
export async function settle(turns = 2): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Waits until `condition` holds, turn by turn; fails after `maxMs` (a bound on the wait, not a timing
 * assertion: a correct broker gets there in a few turns).
 */
export async function until(condition: () => boolean, what: string, maxMs = 5_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * A test file's broker and connections: `use(env)` makes the broker a test runs against, `connect()` a
 * client connection to it; after each test every connection is disposed and the broker's internal-error
 * count must still be 0 (nothing a test did reached the per-connection guard).
 */
export function engineFixture(): {
  use(env?: Record<string, string>): EngineBroker;
  connect(): EngineConnection;
  readonly engine: EngineBroker;
} {
  let engine: EngineBroker | undefined;
  const connections: EngineConnection[] = [];
  afterEach(() => {
    for (const c of connections.splice(0)) c.dispose();
    if (engine !== undefined) expect(engine.broker.stats.internalErrors).toBe(0);
  });
  return {
    use(env = {}) {
      engine = createBroker(env);
      return engine;
    },
    connect() {
      const c = new EngineConnection(engine!.broker);
      connections.push(c);
      return c;
    },
    get engine() {
      return engine!;
    },
  };
}
