/**
 * Connection churn: one client's whole life — connect and authenticate, subscribe, publish, see its event,
 * close — run `cycles` times, `concurrency` at once. Shared by bench/churn/main.ts and the churn test.
 */
import { connect } from '../../client/index.js';

/** One client's whole life; resolves with how many of its events it received (1 when all went well). */
export async function churnCycle(port: number, n: number): Promise<number> {
  const c = await connect({
    broker: `127.0.0.1:${port}`,
    env: {},
    onWarning: () => undefined,
    pubConnPool: 1,
    eventConnPool: 1,
    cacheConnPool: 1,
  });
  try {
    let delivered = 0;
    // Streams are reused across cycles, as clients of one application would.
    const stream = `churn-${n % 8}`;
    const sub = await c.subscribe(stream, { start: 'latest', onEvent: () => delivered++ });
    await c.publish(stream, `cycle ${n}`);
    for (let i = 0; i < 1000 && delivered === 0; i++) await new Promise((r) => setTimeout(r, 2));
    await sub.close();
    return delivered;
  } finally {
    await c.close();
  }
}

/** Cycles numbered from `from`, `concurrency` at once; resolves with the events delivered in all. */
export async function churn(
  port: number,
  from: number,
  cycles: number,
  concurrency: number,
): Promise<number> {
  let delivered = 0;
  for (let n = from; n < from + cycles; n += concurrency) {
    const batch = await Promise.all(Array.from({ length: concurrency }, (_, i) => churnCycle(port, n + i)));
    delivered += batch.reduce((a, b) => a + b, 0);
  }
  return delivered;
}
