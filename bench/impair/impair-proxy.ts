/**
 * The impairment proxy as a program, for trying a client against a lossy path by hand and for benchmarks
 * that keep it out of their own event loop:
 *
 *   node dist/bench/impair/impair-proxy.js --target 127.0.0.1:5000 --listen 127.0.0.1:5001 \
 *     --loss 3 --delay 5 --reorder 25 --seed 7
 *
 * Prints one JSON line {"msg":"impair proxy listening","address":…,"seed":…} once it listens, its counts
 * every --stats-interval seconds (0: never) and when it stops (SIGINT/SIGTERM).
 */
import { parseArgs } from 'node:util';
import { parseBindAddress } from '../../config/kinds.js';
import { ImpairProxy, type UdpAddress } from './proxy.js';

const USAGE = `usage: impair-proxy --target host:port [--listen host:port] [--loss %] [--delay ms] [--jitter ms]
                    [--reorder %] [--reorder-delay ms] [--duplicate %] [--seed n] [--stats-interval s]
Impairments apply to both directions.`;

function address(text: string | undefined, what: string): UdpAddress {
  const parsed = text === undefined ? undefined : parseBindAddress(text);
  if (parsed === undefined) throw new Error(`--${what} must be host:port, got ${text}\n${USAGE}`);
  return parsed;
}

function number(text: string | undefined, what: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value))
    throw new Error(`--${what} must be a number, got ${text}`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string' },
      listen: { type: 'string', default: '127.0.0.1:0' },
      loss: { type: 'string' },
      delay: { type: 'string' },
      jitter: { type: 'string' },
      reorder: { type: 'string' },
      'reorder-delay': { type: 'string' },
      duplicate: { type: 'string' },
      seed: { type: 'string' },
      'stats-interval': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const seed = number(values.seed, 'seed', (Math.random() * 0x1_0000_0000) >>> 0);
  const proxy = await ImpairProxy.start({
    target: address(values.target, 'target'),
    listen: address(values.listen, 'listen'),
    seed,
    toTarget: {
      lossPercent: number(values.loss, 'loss', 0),
      delayMs: number(values.delay, 'delay', 0),
      jitterMs: number(values.jitter, 'jitter', 0),
      reorderPercent: number(values.reorder, 'reorder', 0),
      reorderDelayMs: number(values['reorder-delay'], 'reorder-delay', 10),
      duplicatePercent: number(values.duplicate, 'duplicate', 0),
    },
  });
  console.log(JSON.stringify({ msg: 'impair proxy listening', address: proxy.address, seed }));
  const report = (msg: string): void => console.log(JSON.stringify({ msg, ...proxy.stats() }));
  const every = number(values['stats-interval'], 'stats-interval', 0);
  if (every > 0) setInterval(() => report('impair proxy stats'), every * 1000);
  const stop = (): void => {
    report('impair proxy stopped');
    void proxy.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(2);
});
