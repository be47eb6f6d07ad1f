// A client that resets its publish streams while the broker holds them paused (a `block` subscriber keeps
// publishers back) strands the broker's receive credit on that connection: the quiche under the transport
// drops the unread bytes of a reset stream without giving their credit back (transport/connection.ts,
// strandedBytes). Before the connection could stall with no error on either side, the broker closes it with
// 0x6, `receive credit stranded` (docs/protocol.md), counts it, and goes on serving everyone else.
// A real broker process; the resetting client is raw QUIC (transport/ and wire/ only), as a peer from
// docs/protocol.md would be.
import { expect, it } from 'vitest';
import { connect, type FelixClient } from '../../client/index.js';
import type { CloseInfo } from '../../transport/index.js';
import { CONNECTION_CODE_CREDIT_STRANDED } from '../../wire/index.js';
import { DEFAULT_AUTH, message } from '../../scripts/hostile/frames.js';
import { openConnection } from '../../scripts/hostile/raw-stream.js';
import { spawnBroker } from '../e2e/broker-process.js';
import { eventually } from '../slow-consumer/fixture.js';

const STREAM_WINDOW = 64 * 1024;
const CONNECTION_WINDOW = 256 * 1024;
const PUBLISH = message({
  type: 'publish',
  tenant_id: 't1',
  namespace: 'default',
  stream: 'held',
  payload: Buffer.alloc(1024, 1),
});

it('closes a connection whose reset streams stranded half its receive window with 0x6, and serves on', async () => {
  const broker = await spawnBroker({
    FELIX_BROKER_STREAM_RECV_WINDOW: String(STREAM_WINDOW),
    FELIX_BROKER_CONN_RECV_WINDOW: String(CONNECTION_WINDOW),
    // A subscriber that stops reading holds every publisher of its stream back, for as long as it likes.
    FELIX_SUB_QUEUE_POLICY: 'block',
    FELIX_SUB_QUEUE_CAPACITY: '1',
    FELIX_SLOW_SUB_MAX_FULL_MS: '0',
  });
  const address = `127.0.0.1:${broker.quicPort}`;
  const clients: FelixClient[] = [];
  try {
    const subscriber = await connect({
      broker: address,
      env: {},
      onWarning: () => {},
      eventStreamRecvWindow: 16 * 1024,
      eventConnRecvWindow: 64 * 1024,
    });
    clients.push(subscriber);
    await subscriber.subscribe('held', { queueCapacity: 1, queuePolicy: 'block' });

    const raw = await openConnection(broker.quicPort, { sendWindow: 0 });
    let closed: CloseInfo | undefined;
    raw.connection.onClose = (info) => (closed = info);
    try {
      for (let round = 0; closed === undefined; round++) {
        if (round === 16) throw new Error('the broker never closed the connection');
        const stream = raw.connection.openStream();
        stream.onData = () => undefined;
        stream.write(message({ ...DEFAULT_AUTH }));
        // Publishes until the broker stops reading (its stream window full: quiche refuses more here).
        await eventually(() => {
          if (closed !== undefined || stream.waitingLength > 0) return true;
          for (let i = 0; i < 16; i++) stream.write(PUBLISH);
          return false;
        }, 'the broker to hold the publisher back');
        stream.reset(0x202);
      }
      expect(closed).toMatchObject({ code: CONNECTION_CODE_CREDIT_STRANDED, isApp: true, byPeer: true });
      expect(closed!.reason).toBe('receive credit stranded');
    } finally {
      await raw.close();
    }

    const metrics = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^felix_credit_stranded_closes_total 1$/m);
    // Everyone else is served: a fresh client publishes to another stream and is acknowledged.
    const other = await connect({ broker: address, env: {}, onWarning: () => {} });
    clients.push(other);
    await other.publish('elsewhere', Buffer.from('still served'));
    expect(broker.child.exitCode).toBeNull();
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}, 60_000);
