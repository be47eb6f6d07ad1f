// felix-ts transport adapter: handlers are plain properties called synchronously from the endpoint's
// loop, writes are not copied, received chunks are views of the endpoint's scratch buffer.
import {
  Endpoint,
  generateSelfSignedCertificate,
  type Stream,
  type TransportSettings,
} from '../../transport/index.js';
import { ignore, type BenchStack, type ByteChannel } from './channel.js';

class StreamChannel implements ByteChannel {
  onData: (chunk: Buffer) => void = ignore;
  onEnd: () => void = ignore;
  onDrain: () => void = ignore;

  constructor(private readonly stream: Stream) {
    stream.onData = (chunk, fin) => {
      if (chunk.length !== 0) this.onData(chunk);
      if (fin) this.onEnd();
    };
    stream.onDrain = () => this.onDrain();
  }

  write(data: Buffer): boolean {
    return this.stream.write(data);
  }

  end(data?: Buffer): void {
    this.stream.end(data);
  }
}

// Both fields: the bench talks over loopback, where the endpoint uses loopbackUdpPayload. FELIX_UDP_GSO=off
// and FELIX_UDP_RECVMMSG=off measure the transport without batched sends or receives, as the broker and
// clients read those variables.
function payloadSettings(udpPayload: number): Partial<TransportSettings> {
  const udpGso = process.env.FELIX_UDP_GSO === 'off' ? 'off' : 'auto';
  const udpRecvmmsg = process.env.FELIX_UDP_RECVMMSG === 'off' ? 'off' : 'auto';
  return { maxUdpPayload: udpPayload, loopbackUdpPayload: udpPayload, udpGso, udpRecvmmsg };
}

export const felixStack: BenchStack = {
  async listen({ udpPayload, onChannel }) {
    const endpoint = await Endpoint.listen({
      host: '127.0.0.1',
      port: 0,
      tls: await generateSelfSignedCertificate(),
      settings: payloadSettings(udpPayload),
      onConnection(connection) {
        connection.onStream = (stream) => onChannel(new StreamChannel(stream));
      },
    });
    return { port: endpoint.address.port, close: () => endpoint.close({ timeoutMs: 200 }) };
  },

  async connect({ port, udpPayload }) {
    // No CA on loopback: the endpoint accepts the self-signed certificate (its warning is not news here).
    const endpoint = await Endpoint.client({
      host: '127.0.0.1',
      port,
      settings: payloadSettings(udpPayload),
    });
    const connection = await endpoint.connect();
    return {
      channel: new StreamChannel(connection.openStream()),
      close: () => endpoint.close({ timeoutMs: 200 }),
    };
  },
};
