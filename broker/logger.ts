import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';

/** FELIX_LOG_PRETTY: auto (pretty on a terminal), 1 (always) or 0 (never: JSON lines). */
export type LogPrettyMode = 'auto' | '1' | '0';

/** Whether log lines are written for people: asked for, or auto and stdout is a terminal. */
export function wantsPrettyLogs(mode: LogPrettyMode, stdoutIsTty = process.stdout.isTTY === true): boolean {
  return mode === '1' || (mode === 'auto' && stdoutIsTty);
}

/**
 * Logs on stdout at FELIX_LOG_LEVEL: JSON lines for collectors, or pino-pretty's one coloured line per
 * entry for a person at a terminal. Pretty printing runs in this thread, synchronously, so a line is out
 * before the process exits (a start-up failure exits at once).
 */
export function createLogger(level: string, name = 'felix-broker', pretty: LogPrettyMode = '0'): Logger {
  if (!wantsPrettyLogs(pretty)) return pino({ name, level });
  return pino(
    { name, level },
    PinoPretty({
      colorize: process.stdout.isTTY === true,
      sync: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,name',
      singleLine: true,
    }),
  );
}
