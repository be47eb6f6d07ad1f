// FELIX_BROKER_WRITE_DEADLINE_MS: a client killed (kill -9) while events wait for it is closed by the
// broker once it has been silent for the deadline — long before the idle timeout, which is set far out here
// so only the deadline can end it — and its subscriptions are released. A live client whose application
// stops reading for several deadlines is not closed: its QUIC stack answers the broker's PINGs, and it reads
// every event afterwards. Real processes: the broker program and a `felix sub` subscriber.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { connect, type FelixClient, type FelixEvent, type StatusEvent } from '../../client/index.js';
import { CONNECTION_CODE_WRITE_DEADLINE } from '../../wire/index.js';
import { CLI_MAIN } from '../cli/run-cli.js';
import { spawnBroker } from '../e2e/broker-process.js';
import { eventually } from '../e2e/sdk-harness.js';

const DEADLINE_MS = 1_000;

async function metric(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no metric ${name}`);
  return Number(line.slice(name.length + 1));
}

describe('the write deadline', () => {
  it('closes killed subscribers that events wait for, busy or trickling; spares a live one whose application paused', async () => {
    const broker = await spawnBroker({
      FELIX_BROKER_WRITE_DEADLINE_MS: String(DEADLINE_MS),
      FELIX_IDLE_TIMEOUT_MS: '600000',
    });
    const address = `127.0.0.1:${broker.quicPort}`;
    const env = { FELIX_IDLE_TIMEOUT_MS: '600000', FELIX_EVENT_STREAM_RECV_WINDOW: '64KiB' };
    const clients: FelixClient[] = [];
    const sdk = async (): Promise<FelixClient> => {
      const c = await connect({ broker: address, env });
      clients.push(c);
      return c;
    };
    // Two subscriber processes to kill: one of a busy stream, one of a trickle (a few small events a
    // second, which quiche's buffers take whole: nothing is ever refused for it).
    const doomed = ['busy', 'trickle'].map((stream) =>
      spawn(process.execPath, [CLI_MAIN, 'sub', stream, '--broker', address], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, ...env },
      }),
    );
    try {
      for (const child of doomed) {
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        await eventually(() => stderr.includes('subscribed to'), 'a subscriber process to subscribe');
      }

      // A live subscriber whose application does not read for several deadlines.
      const paused = await sdk();
      const disconnects: StatusEvent[] = [];
      void (async () => {
        for await (const e of paused.status()) if (e.type === 'disconnect') disconnects.push(e);
      })();
      const sub = await paused.subscribe('busy');
      const publisher = await sdk();
      let published = 0;
      const publishing = setInterval(() => {
        for (let i = 0; i < 20; i++)
          void publisher.publish('busy', Buffer.alloc(1024, published++ % 251), { ack: 'none' });
      }, 10);
      const trickling = setInterval(() => void publisher.publish('trickle', 'tick', { ack: 'none' }), 100);
      try {
        await eventually(
          async () => (await metric(broker.httpPort, 'felix_subscriptions')) === 3,
          'three subscriptions',
        );
        for (const child of doomed) child.kill('SIGKILL');
        // Only the deadline can close them: the idle timeout is ten minutes away.
        await eventually(
          async () => (await metric(broker.httpPort, 'felix_write_deadline_closes_total')) === 2,
          'the killed subscribers to be closed by the write deadline',
        );
        expect(await metric(broker.httpPort, 'felix_subscriptions')).toBe(1);
        // The counter moves when the close starts; the log line comes when the connection has closed.
        const closedLines = () =>
          broker.logs.filter((l) => l.msg === 'connection closed' && l.reason === 'write deadline');
        await eventually(() => closedLines().length === 2, 'both closes logged');
        const closed = closedLines();
        expect(closed).toHaveLength(2);
        expect(closed[0]).toMatchObject({ code: CONNECTION_CODE_WRITE_DEADLINE, by: 'broker' });
        // The paused subscriber has read nothing all along; its connection is flow-control blocked.
        await new Promise((r) => setTimeout(r, 4 * DEADLINE_MS));
      } finally {
        clearInterval(publishing);
        clearInterval(trickling);
      }
      await publisher.flush();
      const last = published - 1;
      // Now it reads: every event from its first, in order, and it was never disconnected.
      const got: FelixEvent[] = [];
      for await (const e of sub) {
        got.push(e);
        if (e.offset === last) break;
      }
      expect(got.map((e) => e.offset)).toEqual(got.map((_, i) => got[0]!.offset + i));
      expect(got.at(-1)!.offset).toBe(last);
      expect(disconnects).toEqual([]);
      expect(await metric(broker.httpPort, 'felix_write_deadline_closes_total')).toBe(2);
    } finally {
      for (const child of doomed) child.kill('SIGKILL');
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});
