// The reference: node:net over loopback TCP (no TLS), Nagle off as a latency-sensitive broker would.
import net from 'node:net';
import { ignore, type BenchStack, type ByteChannel } from './channel.js';

class SocketChannel implements ByteChannel {
  onData: (chunk: Buffer) => void = ignore;
  onEnd: () => void = ignore;
  onDrain: () => void = ignore;

  constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.onDrain());
    socket.on('error', ignore);
  }

  write(data: Buffer): boolean {
    return this.socket.write(data);
  }

  end(data?: Buffer): void {
    if (data === undefined) this.socket.end();
    else this.socket.end(data);
  }
}

export const tcpStack: BenchStack = {
  async listen({ onChannel }) {
    // Half-open: the sink answers after the client's FIN, on the same socket.
    const server = net.createServer({ allowHalfOpen: true }, (socket) =>
      onChannel(new SocketChannel(socket)),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    return {
      port,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },

  async connect({ port }) {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return {
      channel: new SocketChannel(socket),
      close: async () => {
        socket.destroy();
      },
    };
  },
};
