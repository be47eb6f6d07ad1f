// A broker bound to every address answers each client from the address that client dialled. Without it
// the kernel picked the routed source (127.0.0.1 for a loopback peer), which a client that dialled
// 127.0.0.2 — like one dialling a host's second address or a virtual IP — drops: its handshake timed out.
// Covered: the handshake and traffic (the connection's packets), a Retry (an answer to no connection), an
// IPv4 and a dual-stack IPv6 wildcard, and a broker bound to one address (unchanged).
import { describe, expect, it } from 'vitest';
import { connect } from '../../client/index.js';
import { startBroker } from '../broker/raw-client.js';
import { startLoggedBroker } from '../support/logged-broker.js';

async function roundTrip(address: string): Promise<string> {
  const client = await connect({ broker: address, env: { FELIX_CONNECT_TIMEOUT_MS: '5000' } });
  let resolveEvent: (text: string) => void = () => undefined;
  const got = new Promise<string>((resolve) => (resolveEvent = resolve));
  await client.subscribe('wild', { onEvent: (e) => resolveEvent(Buffer.from(e.payload).toString()) });
  await client.publish('wild', `via ${address}`);
  const text = await got;
  await client.close();
  return text;
}

describe('a broker bound to every address', () => {
  it.each([
    ['0.0.0.0', {}],
    ['0.0.0.0', { FELIX_QUIC_RETRY: 'always' }],
    ['[::]', {}],
  ])(
    'bound to %s (%j) serves a client that dialled 127.0.0.2, and one that dialled 127.0.0.1',
    async (host, env) => {
      const node = await startBroker({ FELIX_QUIC_BIND: `${host}:0`, ...env });
      const port = node.quicAddress.port;
      expect(await roundTrip(`127.0.0.2:${port}`)).toBe(`via 127.0.0.2:${port}`);
      expect(await roundTrip(`127.0.0.1:${port}`)).toBe(`via 127.0.0.1:${port}`);
    },
    30_000,
  );

  it.each([
    ['0.0.0.0:0', {}, 'on'],
    ['127.0.0.1:0', {}, 'not needed (bound to one address)'],
    ['0.0.0.0:0', { FELIX_UDP_GSO: 'off' }, 'off: off by setting (FELIX_UDP_GSO=off)'],
    ['0.0.0.0:0', { FELIX_UDP_RECVMMSG: 'off' }, 'off: off by setting (FELIX_UDP_RECVMMSG=off)'],
  ])('says at start whether it answers from the dialled address: bound to %s %j', async (bind, env, says) => {
    const { logs } = await startLoggedBroker({ FELIX_QUIC_BIND: bind, ...env });
    const listening = logs.find((l) => l.msg === 'felix-ts broker listening')!;
    if (
      says === 'on' &&
      (listening.udpBatchedReceive !== 'on' || listening.udpSegmentationOffload !== 'on')
    ) {
      // The source address rides the batched paths; where they are unavailable the broker says why instead.
      console.warn(`'on' not checked: batched UDP unavailable here (${String(listening.udpBatchedReceive)})`);
      expect(listening.answersFromDialledAddress).toMatch(/^off: /);
      return;
    }
    expect(listening.answersFromDialledAddress).toBe(says);
  });
});
