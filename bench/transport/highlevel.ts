// The comparison: @matrixai/quic's high-level QUICServer/QUICClient/QUICStream API (WHATWG streams,
// promise per read and write), used the way its own tests and README use it. Nothing else in the
// project uses this API (DESIGN §2).
import { webcrypto } from 'node:crypto';
import { QUICClient, QUICServer, events, type QUICStream } from '@matrixai/quic';
import { DEFAULT_TRANSPORT_SETTINGS, generateSelfSignedCertificate } from '../../transport/index.js';
import { ignore, type BenchStack, type ByteChannel } from './channel.js';

type QuicLogger = NonNullable<ConstructorParameters<typeof QUICServer>[0]['logger']>;

// The package's default logger prints every level (debug included) to stderr, which would cost it CPU
// and pollute the children's output. Its Logger class lives in a package we do not depend on directly,
// and the package only calls these methods, so a silent stand-in is enough.
const silentLogger = {
  getChild(): unknown {
    return silentLogger;
  },
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
} as unknown as QuicLogger;

// The API asks the application for its crypto: random bytes on both sides, and a symmetric
// sign/verify on the server (used for its stateless retry tokens).
const clientCrypto = {
  ops: {
    async randomBytes(data: ArrayBuffer): Promise<void> {
      webcrypto.getRandomValues(new Uint8Array(data));
    },
  },
};

async function hmacKey(raw: ArrayBuffer): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

const serverCrypto = {
  key: webcrypto.getRandomValues(new Uint8Array(32)).buffer,
  ops: {
    async sign(key: ArrayBuffer, data: ArrayBuffer): Promise<ArrayBuffer> {
      return webcrypto.subtle.sign('HMAC', await hmacKey(key), data);
    },
    async verify(key: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer): Promise<boolean> {
      return webcrypto.subtle.verify('HMAC', await hmacKey(key), sig, data);
    },
  },
};

/** The same windows felix-ts uses by default, and reads of up to 64 KiB (the package's default is 4 KiB). */
function quicConfig(udpPayload: number) {
  const s = DEFAULT_TRANSPORT_SETTINGS;
  return {
    verifyPeer: false,
    maxSendUdpPayloadSize: udpPayload,
    maxRecvUdpPayloadSize: 65_527,
    initialMaxData: s.connRecvWindow,
    maxConnectionWindow: s.connRecvWindow,
    initialMaxStreamDataBidiLocal: s.streamRecvWindow,
    initialMaxStreamDataBidiRemote: s.streamRecvWindow,
    maxStreamWindow: s.streamRecvWindow,
    readableChunkSize: 64 * 1024,
  };
}

class WebStreamChannel implements ByteChannel {
  onData: (chunk: Buffer) => void = ignore;
  onEnd: () => void = ignore;
  onDrain: () => void = ignore;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private waitingForReady = false;

  constructor(stream: QUICStream) {
    this.writer = stream.writable.getWriter();
    void this.readLoop(stream.readable.getReader());
  }

  write(data: Buffer): boolean {
    // Failures surface as the stream ending; a rejected write must not become an unhandled rejection.
    this.writer.write(data).catch(ignore);
    if ((this.writer.desiredSize ?? 0) > 0) return true;
    if (!this.waitingForReady) {
      this.waitingForReady = true;
      void this.writer.ready.then(() => {
        this.waitingForReady = false;
        this.onDrain();
      }, ignore);
    }
    return false;
  }

  end(data?: Buffer): void {
    if (data !== undefined) this.writer.write(data).catch(ignore);
    this.writer.close().catch(ignore);
  }

  private async readLoop(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.onData(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      }
    } catch {
      // a reset or a closed connection: treated as the end of the stream
    }
    this.onEnd();
  }
}

export const highLevelStack: BenchStack = {
  async listen({ udpPayload, onChannel }) {
    const cert = await generateSelfSignedCertificate();
    const server = new QUICServer({
      crypto: serverCrypto,
      config: { key: cert.keyPem, cert: cert.certPem, ...quicConfig(udpPayload) },
      logger: silentLogger,
    });
    server.addEventListener(events.EventQUICServerConnection.name, (evt: Event) => {
      const connection = (evt as events.EventQUICServerConnection).detail;
      connection.addEventListener(events.EventQUICConnectionStream.name, (streamEvt: Event) =>
        onChannel(new WebStreamChannel((streamEvt as events.EventQUICConnectionStream).detail)),
      );
    });
    await server.start({ host: '127.0.0.1', port: 0 });
    return { port: server.port, close: () => server.stop({ force: true }) };
  },

  async connect({ port, udpPayload }) {
    const client = await QUICClient.createQUICClient({
      host: '127.0.0.1',
      port,
      localHost: '127.0.0.1',
      crypto: clientCrypto,
      config: quicConfig(udpPayload),
      logger: silentLogger,
    });
    return {
      channel: new WebStreamChannel(client.connection.newStream()),
      close: () => client.destroy({ force: true }),
    };
  },
};
