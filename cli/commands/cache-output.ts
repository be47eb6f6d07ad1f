/**
 * How `felix-ts cache get` shows a value on a terminal. Piped or redirected, the value's bytes go out as
 * they are (with a line ending unless --raw). On a terminal, a value that is not text — not UTF-8, or
 * holding control characters other than tab and line breaks — would garble the screen (an escape sequence
 * in it is obeyed), so it is shown quoted with escapes, as redis-cli shows one: `"\x8dp3\r*G"`.
 */
import { holdsControlCharacters } from '../terminal-text.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The quoted, escaped form of `value` for a terminal, or undefined when it is text to print as it is. */
export function terminalView(value: Uint8Array): string | undefined {
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    return quoted(value);
  }
  return holdsControlCharacters(text, { lineBreaks: true }) ? quoted(value) : undefined;
}

const NAMED: Readonly<Record<number, string>> = {
  0x5c: '\\\\',
  0x22: '\\"',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x07: '\\a',
  0x08: '\\b',
};

function quoted(value: Uint8Array): string {
  let out = '"';
  for (const byte of value) {
    const named = NAMED[byte];
    if (named !== undefined) out += named;
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `${out}"`;
}
