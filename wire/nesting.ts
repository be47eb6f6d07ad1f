/**
 * How deep a JSON text nests, found before JSON.parse is given it. JSON.parse does not recurse, but it
 * builds every level: text nested a million levels deep (2 MB, inside the frame limit) took it ~0.8 s and
 * its collection as long again, against ~2 ms for 2 MB of flat text, so a peer could stall the event loop
 * for seconds with a few frames. No Felix message nests more than two levels, so text deeper than
 * MAX_MESSAGE_NESTING is refused unread, as MessagePack is (msgpack-check.ts).
 *
 * A long string (a base64 payload) is skipped with indexOf, a native search, not a step per byte: the
 * scan costs ~0.2 µs on a 256-byte publish and on a 4 KiB one alike. Text that is not JSON answers
 * whatever; JSON.parse refuses it.
 */
/**
 * How deep any message may nest maps or arrays, in either encoding: deeper than any Felix message (a map
 * holding an array of bin), far below what exhausts the stack.
 */
export const MAX_MESSAGE_NESTING = 16;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;

/** A string longer than this is searched for its end with indexOf; shorter ones are stepped through. */
const SHORT_STRING_BYTES = 32;

/** Whether the text opens more than `maxDepth` arrays or objects inside one another. */
export function jsonNestsDeeper(text: Uint8Array, maxDepth: number): boolean {
  return jsonProblem(text, maxDepth) === 'too_deep';
}

/**
 * What JSON.parse must not be given: text nested more than `maxDepth` levels ('too_deep'), or holding more
 * than `maxElements` array items and object members together ('too_many_elements', counted by the commas
 * outside strings). JSON.parse builds a value per element: 16 MiB of `"",` is 5.5 M of them, ~0.3 s of
 * parsing, against ~20 ms for 16 MiB of one base64 string.
 */
export function jsonProblem(
  text: Uint8Array,
  maxDepth: number,
  maxElements = Infinity,
): 'too_deep' | 'too_many_elements' | undefined {
  const end = text.length;
  let depth = 0;
  let commas = 0;
  let at = 0;
  while (at < end) {
    const b = text[at]!;
    if (b === QUOTE) {
      const close = stringEnd(text, at);
      if (close < 0) return undefined;
      at = close + 1;
      continue;
    }
    if (b === COMMA) {
      if (++commas >= maxElements) return 'too_many_elements';
    } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > maxDepth) return 'too_deep';
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) depth--;
    at++;
  }
  return undefined;
}

/** Where the string opened at `open` ends (its closing quote), or -1 when it does not. */
function stringEnd(text: Uint8Array, open: number): number {
  const end = text.length;
  let at = open + 1;
  // Names and short values: a step per byte costs less than a call.
  while (at - open <= SHORT_STRING_BYTES) {
    if (at >= end) return -1;
    const b = text[at]!;
    if (b === QUOTE) return at;
    at += b === BACKSLASH ? 2 : 1;
  }
  // A long string (a base64 payload): from quote to quote, past those an odd number of backslashes escape.
  let close = at - 1;
  for (;;) {
    close = text.indexOf(QUOTE, close + 1);
    if (close < 0) return -1;
    let slashes = 0;
    // The run of backslashes stops at the opening quote at the latest.
    while (text[close - 1 - slashes] === BACKSLASH) slashes++;
    if ((slashes & 1) === 0) return close;
  }
}
