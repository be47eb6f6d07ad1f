/**
 * The environment a case's broker process starts with: the current FELIX_* environment plus what the case
 * sets, as Felix's demo sets FELIX_FANOUT_BATCH from --batch before it starts its broker.
 */
import { demoBrokerEnvironment } from '../broker/spawn.js';
import { resolvedPubWindow, type CaseSettings } from './cases.js';
import { eventBytes } from './stamp.js';

export type Environment = Readonly<Record<string, string | undefined>>;

// FELIX_SUB_QUEUE_CAPACITY's upper bound, FELIX_SUB_QUEUE_MAX_BYTES's default and upper bound
// (config/broker-settings.ts).
const MAX_SUB_QUEUE_CAPACITY = 1_048_576;
const DEFAULT_SUB_QUEUE_MAX_BYTES = 32 * 1024 * 1024;
const MAX_SUB_QUEUE_MAX_BYTES = 4 * 1024 ** 4;
// The broker counts a queued event as the bytes of its frame, not of its payload: room for the event
// encoding (base64 in a JSON frame is 4/3) and frame headers.
const FRAME_BYTES_PER_EVENT_BYTE = 2;

/** The FELIX_* variables of `env`, sorted by name (what the JSON report calls the environment in effect). */
export function felixVariables(env: Environment): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (name.startsWith('FELIX_') && value !== undefined) out[name] = value;
  }
  return out;
}

/** Whether the demo sizes the subscriber queues of the broker it starts (the user set neither bound). */
export function demoSizesQueues(env: Environment): boolean {
  return env.FELIX_SUB_QUEUE_CAPACITY === undefined && env.FELIX_SUB_QUEUE_MAX_BYTES === undefined;
}

/**
 * Bytes one subscriber's queue may have to hold in the case: the publish window is counted in deliveries
 * over all subscribers, so one subscriber may lag by the whole window (window × batch × fanout events);
 * without a window (--pub-window 0, the open loop) by the whole run. Never below the broker's default.
 */
export function subQueueBytesForCase(c: CaseSettings): number {
  const window = resolvedPubWindow(c);
  const events = window > 0 ? window * c.batch * c.fanout : c.warmup + c.total;
  const bytes = events * eventBytes(c.payload) * FRAME_BYTES_PER_EVENT_BYTE;
  return Math.min(MAX_SUB_QUEUE_MAX_BYTES, Math.max(DEFAULT_SUB_QUEUE_MAX_BYTES, bytes));
}

/**
 * Why the environment's FELIX_FANOUT_BATCH cannot stand, or undefined: a broker the demo spawns for a
 * closed-loop case takes FELIX_FANOUT_BATCH from the case's batch (brokerEnvironment, as Felix's demo), so
 * a different value would be replaced without a word, while the JSON report's `env` still showed it. The
 * open loop and a --broker keep the broker's own (not checked here).
 */
export function fanoutBatchConflict(env: Environment, cases: readonly CaseSettings[]): string | undefined {
  const given = env.FELIX_FANOUT_BATCH;
  if (given === undefined) return undefined;
  const batches = [...new Set(cases.filter((c) => c.rate === undefined).map((c) => c.batch))];
  if (batches.every((batch) => Number(given) === batch)) return undefined;
  const source =
    batches.length === 1 ? `--batch (${batches[0]})` : `each case's batch (${batches.join(' and ')})`;
  const remedy = batches.length === 1 ? `unset it, or give --batch ${given}` : 'unset it';
  return (
    `FELIX_FANOUT_BATCH=${given} in the environment, but the demo's broker takes FELIX_FANOUT_BATCH from ` +
    `${source}, as Felix's: ${remedy} (--rate and --broker keep the broker's own)`
  );
}

export function brokerEnvironment(env: Environment, c: CaseSettings): Record<string, string> {
  const out = demoBrokerEnvironment(env);
  // Felix: FELIX_FANOUT_BATCH follows --batch, so batch 1 sends every event in its own frame. The open loop
  // publishes single messages and measures the broker as configured (its batching included).
  if (c.rate === undefined) out.FELIX_FANOUT_BATCH = String(c.batch);
  // Felix sizes its subscriber queues to hold the whole run (FELIX_EVENT_QUEUE_DEPTH = max(events, 1024)),
  // so a demo run is never shortened by drops; so does this demo, in events and in bytes (what the publish
  // window can have in flight: 1 MiB events at batch 64 overflow the broker's default 32 MiB). Explicit
  // bounds are kept, to study drops.
  if (env.FELIX_SUB_QUEUE_CAPACITY === undefined) {
    const events = Math.max(c.warmup + c.total, 1024);
    out.FELIX_SUB_QUEUE_CAPACITY = String(Math.min(events, MAX_SUB_QUEUE_CAPACITY));
  }
  if (env.FELIX_SUB_QUEUE_MAX_BYTES === undefined) {
    out.FELIX_SUB_QUEUE_MAX_BYTES = String(subQueueBytesForCase(c));
  }
  return out;
}
