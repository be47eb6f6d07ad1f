// Durable streams within the process's open-file limit: a broker started under `ulimit -n 128` serves many
// more durable streams than that (each stream's write files are closed while it is idle and reopened on
// its next write), keeps its HTTP port answering, and logs running out of descriptors at a bounded rate.
// Without the bound every stream kept its files open for good: ~50 streams took every descriptor, every
// later new stream was refused (storage_error), one stack trace was logged per refusal, and /metrics
// stopped answering.
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { BrokerProcess } from '../e2e/broker-process.js';
import { until } from '../broker/raw-client.js';
import {
  NAMESPACE,
  RawClient,
  TENANT,
  startDurableBroker,
  stopBroker,
  storageDir,
} from './durable-harness.js';

const FILE_LIMIT = 128;
const STREAMS = 500;
const WINDOW = 32;
/** The derived bound reads the limit from /proc/self/limits: Linux only. */
const linux = existsSync('/proc/self/limits');

/** A new connection for each request (no keep-alive): each needs a descriptor of its own in the broker. */
function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Polls /metrics and /ready on new connections until stopped; keeps every status. */
class HttpWatch {
  readonly statuses: number[] = [];
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(port: number) {
    this.done = (async () => {
      while (!this.stopped) {
        this.statuses.push(await httpStatus(port, '/metrics'), await httpStatus(port, '/ready'));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
  }

  async stop(): Promise<number[]> {
    this.stopped = true;
    await this.done;
    return this.statuses;
  }
}

/** One acked publish to each of `count` new streams `<prefix><i>`, WINDOW at a time unanswered. */
async function publishToManyStreams(
  client: RawClient,
  prefix: string,
  count: number,
): Promise<{ acked: string[]; refused: string[] }> {
  const acked: string[] = [];
  const refused: string[] = [];
  let read = client.control.frames.length;
  let sent = 0;
  const answered = (): number => acked.length + refused.length;
  const collect = (): void => {
    const frames = client.control.frames;
    for (; read < frames.length; read++) {
      const f = frames[read]! as unknown as Record<string, unknown>;
      if (f.type === 'publish_ok') acked.push(`${prefix}${(f.request_id as number) - 1}`);
      else if (f.type === 'publish_error') refused.push(`${String(f.code)}: ${String(f.message)}`);
    }
  };
  while (answered() < count) {
    while (sent < count && sent - answered() < WINDOW) {
      client.control.send({
        type: 'publish_batch',
        tenant_id: TENANT,
        namespace: NAMESPACE,
        stream: `${prefix}${sent}`,
        payloads: [Buffer.from(`${prefix}${sent}-payload`)],
        request_id: sent + 1,
        ack: 'per_batch',
      });
      sent++;
    }
    const before = answered();
    await until(
      () => {
        collect();
        return answered() > before;
      },
      'a publish answered',
      30_000,
    );
  }
  return { acked, refused };
}

/** Reads every stream in `streams` from its start on a restarted broker; returns those missing their event. */
async function missingAfterRestart(broker: BrokerProcess, streams: string[]): Promise<string[]> {
  const client = await RawClient.connect(broker);
  const missing: string[] = [];
  // A few at a time: a subscriber catching up from disk holds one descriptor while it reads.
  for (let i = 0; i < streams.length; i += 16) {
    const chunk = streams.slice(i, i + 16);
    const got = await Promise.all(
      chunk.map((s, j) => client.readLog(s, i + j + 1, 1).then((r) => r.events.map((e) => e.payload))),
    );
    chunk.forEach((s, j) => {
      if (got[j]!.join() !== `${s}-payload`) missing.push(s);
    });
  }
  await client.close();
  return missing;
}

function errorLines(broker: BrokerProcess): Record<string, unknown>[] {
  return broker.logs.filter((l) => (l.level as number) >= 50);
}

describe('durable streams under a low open-file limit', () => {
  it(`serves ${STREAMS} new durable streams under ulimit -n ${FILE_LIMIT}, /metrics answering throughout`, async (ctx) => {
    if (!linux) {
      console.log('skipped: the open-file limit is read from /proc/self/limits (Linux only)');
      ctx.skip();
    }
    const dir = storageDir();
    const broker = await startDurableBroker(dir, {}, { fileLimit: FILE_LIMIT });
    const watch = new HttpWatch(broker.httpPort);
    const client = await RawClient.connect(broker);
    const { acked, refused } = await publishToManyStreams(client, 's', STREAMS);
    const statuses = await watch.stop();
    await client.close();

    expect(refused.slice(0, 3), `${refused.length} publishes refused`).toEqual([]);
    expect(acked).toHaveLength(STREAMS);
    expect(statuses.filter((s) => s !== 200).length, `HTTP answers: ${statuses.join(',')}`).toBe(0);
    expect(await httpStatus(broker.httpPort, '/metrics')).toBe(200);
    expect(errorLines(broker)).toEqual([]);
    await stopBroker(broker);

    const restarted = await startDurableBroker(dir, {}, { fileLimit: FILE_LIMIT });
    expect(await missingAfterRestart(restarted, acked)).toEqual([]);
    expect(await httpStatus(restarted.httpPort, '/metrics')).toBe(200);
    await stopBroker(restarted);
  });

  it('set too high for the limit: lowers the bound, logs at a bounded rate, keeps answering', async (ctx) => {
    if (!linux) {
      console.log('skipped: the open-file limit is read from /proc/self/limits (Linux only)');
      ctx.skip();
    }
    const dir = storageDir();
    const env = { FELIX_DURABLE_MAX_OPEN_STREAMS: '1000' };
    const broker = await startDurableBroker(dir, env, { fileLimit: FILE_LIMIT });
    const client = await RawClient.connect(broker);
    const { acked, refused } = await publishToManyStreams(client, 'h', STREAMS);
    await client.close();

    // The publishes met by the first shortage are refused; once the bound is lowered the rest go through.
    expect(refused.length, refused.slice(0, 3).join('; ')).toBeLessThan(STREAMS / 10);
    expect(acked.length + refused.length).toBe(STREAMS);
    expect(broker.logs.some((l) => String(l.msg).startsWith('out of file descriptors'))).toBe(true);
    // One line per kind of failure per interval (the run takes well under one), not one per refusal.
    expect(errorLines(broker).length, JSON.stringify(errorLines(broker).slice(0, 3))).toBeLessThanOrEqual(4);
    expect(await httpStatus(broker.httpPort, '/metrics')).toBe(200);
    expect(await httpStatus(broker.httpPort, '/ready')).toBe(200);
    await stopBroker(broker);

    const restarted = await startDurableBroker(dir, {}, { fileLimit: FILE_LIMIT });
    expect(await missingAfterRestart(restarted, acked)).toEqual([]);
    await stopBroker(restarted);
  });
});
