import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RateLimitedLog } from '../../broker/storage/rate-limited-log.js';

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { logger, lines };
}

function emfile(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EMFILE: too many open files, open '${path}'`), { code: 'EMFILE' });
}

describe('RateLimitedLog', () => {
  it('logs the first failure of a kind whole and counts the rest in one line', () => {
    const { logger, lines } = capture();
    const log = new RateLimitedLog(logger, 60_000);
    for (let i = 0; i < 1000; i++)
      log.error(`t/n/s${i}`, emfile(`/x/s${i}`), 'durable stream storage failed');
    log.error(
      't/n/full',
      Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }),
      'durable stream storage failed',
    );
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ stream: 't/n/s0', err: { code: 'EMFILE' } });
    expect(lines[1]).toMatchObject({ stream: 't/n/full', err: { code: 'ENOSPC' } });
    log.flush();
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({ code: 'EMFILE', more: 999, lastStream: 't/n/s999' });
  });

  it('logs a failure of no stream as a warning, the same way', () => {
    const { logger, lines } = capture();
    const log = new RateLimitedLog(logger, 60_000);
    for (let i = 0; i < 5; i++) log.warn(emfile('/proc/self/stat'), 'a sample failed');
    log.flush();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'a sample failed', err: { code: 'EMFILE' } });
    expect(lines[1]).toMatchObject({ level: 40, code: 'EMFILE', more: 4 });
    expect(lines.some((l) => 'stream' in l || 'lastStream' in l)).toBe(false);
  });
});
