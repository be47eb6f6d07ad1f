import type { ReceivedFrame } from './frame-stream.js';

/** A frame as a failure reason shows it: flags and a readable, shortened body. */
export function describeFrame(frame: ReceivedFrame): string {
  const flags = `flags 0x${frame.flags.toString(16)}`;
  if (frame.message === null) return `${flags}, undecodable (${frame.problem})`;
  if (frame.flags === 0) return `${flags} ${shorten(frame.payload.toString('utf8'))}`;
  return `${flags} ${shorten(JSON.stringify(frame.message, bytesAsText))}`;
}

function bytesAsText(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  if (typeof value === 'bigint') return value.toString();
  // Buffer's own toJSON runs before the replacer sees it.
  if (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === 'Buffer' &&
    Array.isArray((value as { data?: unknown }).data)
  )
    return `<${(value as { data: unknown[] }).data.length} bytes>`;
  return value;
}

function shorten(text: string, limit = 240): string {
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}

export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}
