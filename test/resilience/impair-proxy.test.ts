// The impairment proxy the lossy-network tests and benchmarks rely on: it forwards both ways per client,
// drops, duplicates and reorders what it is told to, and the same seed gives the same fates.
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { Impairment, resolveImpairment } from '../../bench/impair/impairment.js';
import { ImpairProxy } from '../../bench/impair/proxy.js';

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function udp(onMessage?: (msg: Buffer, from: dgram.RemoteInfo, socket: dgram.Socket) => void) {
  const socket = dgram.createSocket('udp4');
  if (onMessage) socket.on('message', (m, r) => onMessage(m, r, socket));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  open.push({ close: () => new Promise<void>((r) => socket.close(() => r())) });
  return socket;
}

/** An echo server, a proxy in front of it, and a client socket collecting the echoes as numbers. */
async function echoThroughProxy(settings: Parameters<typeof ImpairProxy.start>[0]['toTarget'], seed = 1) {
  const echo = await udp((msg, from, socket) => socket.send(msg, from.port, from.address));
  const proxy = await ImpairProxy.start({
    target: { host: '127.0.0.1', port: echo.address().port },
    toTarget: settings,
    toClient: {},
    seed,
  });
  open.push(proxy);
  const received: number[] = [];
  const client = await udp((msg) => received.push(msg.readUInt32BE(0)));
  const send = (n: number): void => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    client.send(b, proxy.port, '127.0.0.1');
  };
  return { proxy, received, send };
}

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !predicate(); i++) await new Promise((r) => setTimeout(r, 5));
}

describe('impairment proxy', () => {
  it('forwards every datagram both ways, in order, when nothing is impaired', async () => {
    const { proxy, received, send } = await echoThroughProxy({});
    for (let i = 0; i < 200; i++) send(i);
    await until(() => received.length === 200);
    expect(received).toEqual([...Array(200).keys()]);
    expect(proxy.stats()).toMatchObject({ flows: 1, toTarget: { received: 200, dropped: 0 } });
  });

  it('drops about the share asked for, and a dropped datagram never arrives', async () => {
    const { proxy, received, send } = await echoThroughProxy({ lossPercent: 20 });
    for (let i = 0; i < 1000; i++) send(i);
    await until(() => received.length === 1000 - proxy.stats().toTarget.dropped);
    const { dropped } = proxy.stats().toTarget;
    expect(dropped).toBeGreaterThan(120);
    expect(dropped).toBeLessThan(280);
    expect(received).toHaveLength(1000 - dropped);
  });

  it('reorders and duplicates when asked', async () => {
    const { proxy, received, send } = await echoThroughProxy({
      reorderPercent: 30,
      reorderDelayMs: 20,
      duplicatePercent: 10,
    });
    for (let i = 0; i < 300; i++) send(i);
    await until(() => received.length === 300 + proxy.stats().toTarget.duplicated);
    const { duplicated, reordered } = proxy.stats().toTarget;
    expect(duplicated).toBeGreaterThan(0);
    expect(reordered).toBeGreaterThan(0);
    expect(received).toHaveLength(300 + duplicated);
    expect(new Set(received).size).toBe(300);
    expect(received.some((n, i) => i > 0 && n < received[i - 1]!)).toBe(true);
  });

  it('gives the same fates for the same seed, and others for another', () => {
    const settings = resolveImpairment({
      lossPercent: 10,
      duplicatePercent: 5,
      jitterMs: 3,
      reorderPercent: 25,
    });
    const fates = (seed: number) => {
      const impairment = new Impairment(settings, seed);
      return Array.from({ length: 500 }, () => impairment.nextFate());
    };
    expect(fates(7)).toEqual(fates(7));
    expect(fates(7)).not.toEqual(fates(8));
  });

  it('refuses impossible settings, naming them', () => {
    expect(() => resolveImpairment({ lossPercent: 101 })).toThrow(/lossPercent/);
    expect(() => resolveImpairment({ delayMs: -1 })).toThrow(/delayMs/);
  });
});
