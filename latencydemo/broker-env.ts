/**
 * The environment a case's broker process starts with: the current FELIX_* environment plus what the case
 * sets, as Felix's demo sets FELIX_FANOUT_BATCH from --batch before it starts its broker.
 */
import type { CaseSettings } from './cases.js';

export type Environment = Readonly<Record<string, string | undefined>>;

// FELIX_SUB_QUEUE_CAPACITY's upper bound (config/broker-settings.ts).
const MAX_SUB_QUEUE_CAPACITY = 1_048_576;
const VERBOSE_LOG_LEVELS = new Set(['debug', 'trace']);

/** The FELIX_* variables of `env`, sorted by name (what the JSON report calls the environment in effect). */
export function felixVariables(env: Environment): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (name.startsWith('FELIX_') && value !== undefined) out[name] = value;
  }
  return out;
}

export function brokerEnvironment(env: Environment, c: CaseSettings): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  // Ephemeral loopback ports: the broker logs the ports it got, and cases never collide with each other
  // or with another broker on the machine.
  out.FELIX_QUIC_BIND = '127.0.0.1:0';
  out.FELIX_BROKER_METRICS_BIND = '127.0.0.1:0';
  // The "listening" line the demo waits for is logged at info.
  if (!VERBOSE_LOG_LEVELS.has(out.FELIX_LOG_LEVEL ?? '')) out.FELIX_LOG_LEVEL = 'info';
  // Felix: FELIX_FANOUT_BATCH follows --batch, so batch 1 sends every event in its own frame. The open loop
  // publishes single messages and measures the broker as configured (its batching included).
  if (c.rate === undefined) out.FELIX_FANOUT_BATCH = String(c.batch);
  // Felix sizes its subscriber queues to hold the whole run (FELIX_EVENT_QUEUE_DEPTH = max(events, 1024)),
  // so a demo run is never shortened by drops; an explicit FELIX_SUB_QUEUE_CAPACITY is kept, to study drops.
  if (env.FELIX_SUB_QUEUE_CAPACITY === undefined) {
    const events = Math.max(c.warmup + c.total, 1024);
    out.FELIX_SUB_QUEUE_CAPACITY = String(Math.min(events, MAX_SUB_QUEUE_CAPACITY));
  }
  return out;
}
