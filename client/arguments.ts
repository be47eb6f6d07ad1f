/**
 * Checks of what an application passes to publish and subscribe, made at the call: a wrong value is an
 * `invalid_argument` naming the option and what it accepts, before anything is encoded or sent (not a
 * wire error about a field the caller never set, nor a refusal from the broker a round trip later).
 * Called once per publish: a few comparisons, no allocation on the valid path.
 */
import { QUEUE_POLICIES } from '../config/shared-settings.js';
import { quotedName } from '../config/shown-name.js';
import type { AckMode, StartPosition } from '../wire/index.js';
import type { QueuePolicy } from './async-queue.js';
import { FelixError } from './errors.js';

/** What publish and publishBatch take as one payload. */
export type Payload = Uint8Array | string;

export function describeArgument(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return quotedName(value);
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  return `${typeof value} ${String(value)}`;
}

function invalid(message: string): FelixError {
  return new FelixError('invalid_argument', message);
}

/** The `ack` option, or `fallback` when it is not given. */
export function ackModeOf(value: unknown, fallback: AckMode): AckMode {
  if (value === undefined) return fallback;
  if (value === 'per_message' || value === 'per_batch' || value === 'none') return value;
  throw invalid(`ack must be 'per_message', 'per_batch' or 'none', got ${describeArgument(value)}`);
}

/** One payload as bytes: a string is sent as its UTF-8 bytes, a Uint8Array as it is. */
export function payloadBytes(payload: unknown): Uint8Array {
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  if (payload instanceof Uint8Array) return payload;
  throw invalid(`a payload must be a Uint8Array or a string, got ${describeArgument(payload)}`);
}

/** publishBatch's payloads: an array of payloads. */
export function batchPayloads(payloads: unknown): readonly unknown[] {
  if (Array.isArray(payloads)) return payloads;
  throw invalid(`payloads must be an array of Uint8Array or string, got ${describeArgument(payloads)}`);
}

/** The `start` option of subscribe, 'latest' when not given. */
export function startPositionOf(value: unknown): StartPosition {
  if (value === undefined) return 'latest';
  if (value === 'latest' || value === 'earliest') return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const offset = (value as { offset?: unknown }).offset;
    if (typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0) return { offset };
  }
  const offset =
    typeof value === 'object' && value !== null
      ? ` (offset ${describeArgument((value as { offset?: unknown }).offset)})`
      : '';
  throw invalid(
    `start must be 'latest', 'earliest' or { offset: n }, n an integer ≥ 0, got ${describeArgument(value)}${offset}`,
  );
}

/** The `queuePolicy` option of subscribe, `fallback` when not given. */
export function queuePolicyOf(value: unknown, fallback: QueuePolicy): QueuePolicy {
  if (value === undefined) return fallback;
  if ((QUEUE_POLICIES as readonly unknown[]).includes(value)) return value as QueuePolicy;
  throw invalid(
    `queuePolicy must be one of ${QUEUE_POLICIES.map((p) => `'${p}'`).join(', ')}, got ${describeArgument(value)}`,
  );
}

/** An optional callback option (`onEvent`, `onGap`). */
export function callbackOf<F extends (...args: never[]) => unknown>(
  name: string,
  value: unknown,
): F | undefined {
  if (value === undefined || typeof value === 'function') return value as F | undefined;
  throw invalid(`${name} must be a function, got ${describeArgument(value)}`);
}
