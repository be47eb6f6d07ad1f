/**
 * How `felix-ts sub` prints: one line per event, `<offset><TAB><payload>`, and before an event that follows
 * a gap, a line starting with `#` that says what was missed. Payloads that are not printable UTF-8 on one
 * line are printed as `base64:<bytes in base64>` so every event stays one line.
 */
import type { FelixEvent } from '../../client/index.js';
import { holdsControlCharacters } from '../terminal-text.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function formatPayload(payload: Uint8Array): string {
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return `base64:${Buffer.from(payload).toString('base64')}`;
  }
  // Line breaks would break the one-line-per-event format; other control characters, the terminal.
  return holdsControlCharacters(text, { lineBreaks: false }) || text.startsWith('base64:')
    ? `base64:${Buffer.from(payload).toString('base64')}`
    : text;
}

/** The `#` line to print before `event`, or undefined when nothing was missed right before it. */
export function formatGap(event: Pick<FelixEvent, 'gap' | 'offset' | 'epochChanged'>): string | undefined {
  if (event.epochChanged === true || event.gap === Number.POSITIVE_INFINITY) {
    return (
      `# gap: an unknown number of events missed: the broker lost the stream's history (a restart); ` +
      `offsets count anew from ${event.offset}`
    );
  }
  if (!(event.gap > 0)) return undefined;
  const first = event.offset - event.gap;
  const last = event.offset - 1;
  const range = first === last ? `offset ${first}` : `offsets ${first}-${last}`;
  return `# gap: ${event.gap} event${event.gap === 1 ? '' : 's'} missed (${range})`;
}

export function formatEvent(event: FelixEvent): string {
  const gap = formatGap(event);
  const line = `${event.offset}\t${formatPayload(event.payload)}\n`;
  return gap === undefined ? line : `${gap}\n${line}`;
}
