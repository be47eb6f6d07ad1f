import { pino, type Logger } from 'pino';

/** Structured JSON logs on stdout; the level comes from FELIX_LOG_LEVEL. */
export function createLogger(level: string, name = 'felix-broker'): Logger {
  return pino({ name, level });
}
