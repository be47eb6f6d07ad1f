// A loopback UDP port with nothing bound to it: bound once, then released, so the kernel answers each
// datagram sent there with an ICMP port unreachable (UDP's "connection refused").
import dgram from 'node:dgram';

export async function closedPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
