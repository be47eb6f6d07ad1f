/**
 * Errors that can come once per stream or per publish — a process out of file descriptors refuses every new
 * stream — or once a second (the idle memory sampler, broker/idle-memory.ts, on the same condition), logged
 * at a bounded rate: the first of a kind at once, whole (its error and stack); the others of that kind
 * within the interval only counted, then one line with the count (and the last stream met, for a stream's).
 * 4,300 stack traces in three seconds hid what happened and filled the disk the log is on.
 */
import type { Logger } from 'pino';

/** One line per kind of error per this interval at most. */
export const ERROR_LOG_INTERVAL_MS = 10_000;

type Level = 'error' | 'warn';

interface Suppressed {
  readonly level: Level;
  readonly code: string;
  readonly msg: string;
  count: number;
  /** The stream the last one was about; undefined for a failure of no stream. */
  lastStream: string | undefined;
  timer: NodeJS.Timeout | null;
}

export class RateLimitedLog {
  /** Kinds logged within the current interval (a kind: the message and the error's code). */
  private readonly recent = new Map<string, Suppressed>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = ERROR_LOG_INTERVAL_MS,
  ) {}

  /** A storage error of `stream`, at level error. */
  error(stream: string, err: unknown, msg: string, fields: Record<string, unknown> = {}): void {
    this.note('error', stream, err, msg, fields);
  }

  /** A failure of no stream that the process carries on without (the idle memory sampler's), at level warn. */
  warn(err: unknown, msg: string, fields: Record<string, unknown> = {}): void {
    this.note('warn', undefined, err, msg, fields);
  }

  private note(
    level: Level,
    stream: string | undefined,
    err: unknown,
    msg: string,
    fields: Record<string, unknown>,
  ): void {
    const code = (err as NodeJS.ErrnoException | null)?.code ?? 'unknown';
    const kind = `${code}\u0000${msg}`;
    const seen = this.recent.get(kind);
    if (seen !== undefined) {
      seen.count++;
      seen.lastStream = stream;
      return;
    }
    this.logger[level]({ ...(stream !== undefined && { stream }), err, ...fields }, msg);
    const entry: Suppressed = { level, code, msg, count: 0, lastStream: stream, timer: null };
    entry.timer = setTimeout(() => this.endInterval(kind, entry), this.intervalMs);
    entry.timer.unref();
    this.recent.set(kind, entry);
  }

  /** Stops the timers (shutdown); counts not yet logged are logged now. */
  flush(): void {
    for (const entry of this.recent.values()) {
      if (entry.timer !== null) clearTimeout(entry.timer);
      this.report(entry);
    }
    this.recent.clear();
  }

  private endInterval(kind: string, entry: Suppressed): void {
    this.recent.delete(kind);
    this.report(entry);
  }

  private report(entry: Suppressed): void {
    if (entry.count === 0) return;
    const { code, count, lastStream } = entry;
    this.logger[entry.level](
      { code, more: count, ...(lastStream !== undefined && { lastStream }), intervalMs: this.intervalMs },
      `${entry.msg} (${count} more like it since the last line)`,
    );
  }
}
