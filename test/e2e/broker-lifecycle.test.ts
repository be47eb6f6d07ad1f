import { request } from 'node:http';
import parsePrometheus from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { WireError, encodeBinaryPublishBatch, type BinaryEventBatch } from '../../wire/index.js';
import { RawStream, connectRaw, eventStreams, until } from '../broker/raw-client.js';
import { runBrokerExpectingFailure, spawnBroker } from './broker-process.js';

/** A POST with exactly these headers (fetch would add its own), resolving with the status. */
function post(port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end('x');
  });
}

async function httpGet(port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
}

/** A subscriber to `stream` with a 16 KiB receive window whose event stream is paused: it takes nothing. */
async function pausedSubscriber(quicPort: number, stream: string): Promise<RawStream> {
  const subConn = await connectRaw({ quicAddress: { port: quicPort } }, { streamRecvWindow: 16 * 1024 });
  const byId = eventStreams(subConn);
  const control = await RawStream.open(subConn);
  control.send({ type: 'subscribe', tenant_id: 't1', namespace: 'ns', stream, subscription_id: 1 });
  await control.next();
  await until(() => byId.has(1), 'the event stream');
  const events = byId.get(1)!;
  events.stream.pause();
  return events;
}

/** Publishes `count` 1 KiB messages to `stream`, each acked, and returns the publishing stream. */
async function publishAcked(quicPort: number, stream: string, count: number): Promise<RawStream> {
  const pub = await RawStream.open(await connectRaw({ quicAddress: { port: quicPort } }));
  const payload = Buffer.alloc(1024, 7);
  for (let i = 0; i < count; i++) {
    pub.write(
      encodeBinaryPublishBatch({
        tenant_id: 't1',
        namespace: 'ns',
        stream,
        payloads: [payload],
        request_id: i,
        ack: 'per_message',
      }),
    );
  }
  for (let i = 0; i < count; i++) expect(await pub.next()).toMatchObject({ type: 'publish_ok' });
  return pub;
}

describe('broker process', () => {
  it('POST /drain from loopback puts it in lame duck and shuts it down as SIGTERM does', async () => {
    const broker = await spawnBroker();
    const conn = await connectRaw({ quicAddress: { port: broker.quicPort } });
    const s = await RawStream.open(conn);
    expect((await fetch(`http://127.0.0.1:${broker.httpPort}/drain`)).status).toBe(405);
    // What a web page on this host (a form POST, no preflight) or a DNS-rebound name would send: refused.
    expect(await post(broker.httpPort, '/drain', { origin: 'http://evil.example' })).toBe(403);
    expect(await post(broker.httpPort, '/drain', { host: 'evil.example' })).toBe(403);
    expect(await post(broker.httpPort, '/drain', { host: `localhost:${broker.httpPort}` })).toBe(202);
    // The client offered DRAINING: it is told before the broker stops.
    expect(await s.next()).toEqual({ type: 'draining' });
    expect(await broker.exited).toBe(0);
    expect(broker.logs.some((l) => l.msg === 'draining for shutdown')).toBe(true);
  });

  it('refuses to start on a bad setting, naming the setting, the value and the allowed range', async () => {
    const { code, stderr } = await runBrokerExpectingFailure({ FELIX_SUB_QUEUE_CAPACITY: '0' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/FELIX_SUB_QUEUE_CAPACITY/);
    expect(stderr).toMatch(/"0"/);
    expect(stderr).toMatch(/from 1 to/);
    const policy = await runBrokerExpectingFailure({ FELIX_SUB_QUEUE_POLICY: 'drop_oldest' });
    expect(policy.code).toBe(2);
    expect(policy.stderr).toMatch(/FELIX_SUB_QUEUE_POLICY.*drop_oldest.*block, drop_new, drop_old/s);
  });

  it('sets its V8 heap growth from FELIX_HEAP_GROWING_PERCENT and its profile, and says so when it starts', async () => {
    const growing = async (env: Record<string, string>): Promise<unknown> => {
      const broker = await spawnBroker(env);
      return broker.logs.find((l) => l.msg === 'felix-ts broker listening')!.heapGrowing;
    };
    expect(await growing({})).toBe('100%');
    expect(await growing({ FELIX_PROFILE: 'high-memory' })).toBe('200%');
    expect(await growing({ FELIX_HEAP_GROWING_PERCENT: '350' })).toBe('350%');
    expect(await growing({ FELIX_HEAP_GROWING_PERCENT: '0' })).toBe("V8's adaptive growth");
    const refused = await runBrokerExpectingFailure({ FELIX_HEAP_GROWING_PERCENT: '1001' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/FELIX_HEAP_GROWING_PERCENT.*"1001".*from 0 to 1000/s);
  });

  it('serves /live, /ready and /metrics in Prometheus text format', async () => {
    const broker = await spawnBroker();
    expect((await httpGet(broker.httpPort, '/live')).status).toBe(200);
    expect((await httpGet(broker.httpPort, '/ready')).status).toBe(200);
    const conn = await connectRaw({ quicAddress: { port: broker.quicPort } });
    const pub = await RawStream.open(conn);
    pub.send({
      type: 'publish',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'm',
      payload: Buffer.from('x'),
      request_id: 1,
      ack: 'per_message',
    });
    await pub.next();
    const families = parsePrometheus((await httpGet(broker.httpPort, '/metrics')).text);
    const value = (name: string): number => Number(families.find((f) => f.name === name)?.metrics[0]?.value);
    expect(value('felix_connections')).toBe(1);
    expect(value('felix_published_messages_total')).toBe(1);
    const drops = families.find((f) => f.name === 'felix_subscriber_dropped_events_total')!;
    expect(drops.metrics.map((m) => m.labels?.policy).sort()).toEqual(['block', 'drop_new', 'drop_old']);
    expect(families.some((f) => f.name === 'felix_cache_hits_total')).toBe(true);
    // Batched UDP I/O: whether each path is on here is in the start log line, and the counters agree.
    const listening = broker.logs.find((l) => l.msg === 'felix-ts broker listening')!;
    const receiveOn = listening.udpBatchedReceive === 'on';
    expect(value('felix_udp_batched_receive')).toBe(receiveOn ? 1 : 0);
    if (receiveOn) expect(value('felix_udp_batched_read_datagrams_total')).toBeGreaterThan(0);
    else console.warn(`batched receive not checked: ${String(listening.udpBatchedReceive)}`);
    expect(value('felix_udp_segmentation_offload')).toBe(listening.udpSegmentationOffload === 'on' ? 1 : 0);
  });

  it('drains on SIGTERM: /ready turns 503, every acked message reaches the subscriber, then it exits', async () => {
    const broker = await spawnBroker({
      FELIX_SHUTDOWN_DRAIN_TIMEOUT_MS: '20000',
      FELIX_SUB_QUEUE_CAPACITY: '100000',
      FELIX_FANOUT_BATCH: '1',
    });
    // A subscriber with a small receive window, paused: the broker must hold events for it while draining.
    const events = await pausedSubscriber(broker.quicPort, 'drain');
    const pub = await publishAcked(broker.quicPort, 'drain', 500);

    broker.child.kill('SIGTERM');
    await until(() => broker.logs.some((l) => l.msg === 'draining for shutdown'), 'the drain to start');
    expect((await httpGet(broker.httpPort, '/ready')).status).toBe(503);
    pub.send({
      type: 'publish',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'drain',
      payload: Buffer.from('late'),
      request_id: 999,
      ack: 'per_message',
    });
    // The client offered DRAINING: the lame-duck notice comes first, then the refusal.
    expect(await pub.next()).toEqual({ type: 'draining' });
    expect(await pub.next()).toMatchObject({ type: 'publish_error', request_id: 999, code: 'draining' });

    events.stream.resume();
    expect(await broker.exited).toBe(0);
    const offsets = new Set<number>();
    for (const f of events.frames) {
      if (f instanceof WireError || f.type !== 'binary_event_batch') continue;
      const b = f as BinaryEventBatch;
      b.payloads.forEach((_, i) => offsets.add(b.base_offset! + i));
    }
    expect(offsets.size).toBe(500);
    expect(broker.logs.some((l) => l.msg === 'broker stopped')).toBe(true);
  });

  it('says how many events a drain that timed out leaves undelivered to a subscriber that stopped reading', async () => {
    const broker = await spawnBroker({
      FELIX_SHUTDOWN_DRAIN_TIMEOUT_MS: '300',
      FELIX_SUB_QUEUE_CAPACITY: '100000',
      FELIX_FANOUT_BATCH: '1',
    });
    await pausedSubscriber(broker.quicPort, 'stuck'); // and never resumed
    await publishAcked(broker.quicPort, 'stuck', 200);

    broker.child.kill('SIGTERM');
    expect(await broker.exited).toBe(0);
    const warning = broker.logs.find((l) => String(l.msg).startsWith('shutdown drain timed out'));
    expect(warning).toMatchObject({ level: 40, timeoutMs: 300 });
    // 200 KiB published, at most the 16 KiB window (and what quiche holds for it) taken: most are queued.
    const left = Number(warning!.eventsQueued) + Number(warning!.eventsInTransport);
    expect(left).toBeGreaterThan(100);
    expect(left).toBeLessThanOrEqual(200);
  });
});
