/**
 * What a MessagePack value holds that the decoder must not be given, found by walking its headers before
 * decoding it (msgpackr decodes leniently, so these are refused here, once, for every decoding path):
 *
 * - Nesting deeper than a limit. msgpackr decodes nested maps and arrays by recursion, so a payload of a
 *   few thousand nested maps either exhausts the stack or not depending on how deep the caller already
 *   is: refusing it up front makes the answer the same wherever the decode runs. No Felix message nests
 *   more than two levels (a map holding an array of bin), so the limit costs a legitimate client nothing.
 * - A str whose bytes are not well-formed UTF-8 (overlong forms, encoded surrogates, cut-short sequences).
 *   msgpackr turns them into U+FFFD, in its JavaScript reader, its TextDecoder path for long strings and
 *   the native extractor alike, so a garbled name or cache key would silently become another one. The
 *   bytes are checked here instead, whichever of those paths later reads them: map keys included.
 * - Ext values and the byte 0xc1. MessagePack leaves 0xc1 unused, and no Felix message carries an ext, but
 *   msgpackr reads both: records and bundled strings (0xc1 reads one) build strings from bytes this walk
 *   would see as something else, and other types build Dates, Errors, RegExps and Sets. Refusing them
 *   keeps every string the decoder produces a str this walk checked.
 *
 * Skipping over bin bodies keeps the walk proportional to the number of values and the bytes of text,
 * not to the payload's size.
 */
import { isUtf8 } from 'node:buffer';

/** Items still to read in each open container; deep enough for any limit a caller passes. */
const remaining = new Float64Array(256);

export type MsgpackProblem = 'too_deep' | 'ext' | 'never_used' | 'ill_formed_str' | 'too_many_items';

/** A str body up to this long is scanned for ASCII in place; longer ones go to the native check at once. */
const SCAN_IN_PLACE_BYTES = 64;

/**
 * The first problem that stops the decode of the first value in `bytes` (nesting beyond `maxDepth` maps or
 * arrays, empty ones included, an ext, 0xc1), else 'ill_formed_str' when a str in it is not UTF-8, else undefined. A
 * truncated value answers what was found before its end: the decoder reports the truncation itself.
 */
export function msgpackProblem(
  bytes: Uint8Array,
  maxDepth: number,
  /** An array of more items than this is refused before the decoder allocates one object per item. */
  maxArrayItems = Infinity,
): MsgpackProblem | undefined {
  const limit = Math.min(maxDepth, remaining.length);
  const end = bytes.length;
  let depth = 0;
  let at = 0;
  let illFormed = false;
  while (at < end) {
    const b = bytes[at]!;
    let items = 0;
    // Where a str's body starts, when this value is one.
    let text = -1;
    if (b <= 0x7f || b >= 0xe0) at += 1;
    else if (b <= 0x8f) {
      items = (b & 0x0f) * 2;
      at += 1;
    } else if (b <= 0x9f) {
      items = b & 0x0f;
      at += 1;
    } else if (b <= 0xbf) {
      text = at + 1;
      at = text + (b & 0x1f);
    } else {
      switch (b) {
        case 0xc4: // bin 8
          if (at + 2 > end) return truncated(illFormed);
          at += 2 + bytes[at + 1]!;
          break;
        case 0xc5:
          if (at + 3 > end) return truncated(illFormed);
          at += 3 + readU16(bytes, at + 1);
          break;
        case 0xc6:
          if (at + 5 > end) return truncated(illFormed);
          at += 5 + readU32(bytes, at + 1);
          break;
        case 0xd9: // str 8
          if (at + 2 > end) return truncated(illFormed);
          text = at + 2;
          at = text + bytes[at + 1]!;
          break;
        case 0xda:
          if (at + 3 > end) return truncated(illFormed);
          text = at + 3;
          at = text + readU16(bytes, at + 1);
          break;
        case 0xdb:
          if (at + 5 > end) return truncated(illFormed);
          text = at + 5;
          at = text + readU32(bytes, at + 1);
          break;
        case 0xc1:
          return 'never_used';
        case 0xc7: // ext 8, 16, 32 and fixext 1..16
        case 0xc8:
        case 0xc9:
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
          return 'ext';
        case 0xcc:
        case 0xd0:
          at += 2;
          break;
        case 0xcd:
        case 0xd1:
          at += 3;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          at += 5;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          at += 9;
          break;
        case 0xdc: // array 16
          if (at + 3 > end) return truncated(illFormed);
          items = readU16(bytes, at + 1);
          at += 3;
          if (items > maxArrayItems && items <= end - at) return 'too_many_items';
          break;
        case 0xdd:
          if (at + 5 > end) return truncated(illFormed);
          items = readU32(bytes, at + 1);
          at += 5;
          // A count the bytes left cannot hold (an item takes one at least) is a truncation, reported so.
          if (items > maxArrayItems && items <= end - at) return 'too_many_items';
          break;
        case 0xde: // map 16
          if (at + 3 > end) return truncated(illFormed);
          items = readU16(bytes, at + 1) * 2;
          at += 3;
          break;
        case 0xdf:
          if (at + 5 > end) return truncated(illFormed);
          items = readU32(bytes, at + 1) * 2;
          at += 5;
          break;
        default: // nil, false, true
          at += 1;
      }
    }
    if (text >= 0 && !illFormed && at <= end) {
      // Names and keys are short and nearly always ASCII: OR their bytes together (no branch per byte)
      // and ask the native validator only about a str that has a high bit set, or a long one.
      if (at - text > SCAN_IN_PLACE_BYTES) illFormed = !isUtf8(bytes.subarray(text, at));
      else {
        let high = 0;
        for (let i = text; i < at; i++) high |= bytes[i]!;
        if (high >= 0x80) illFormed = !isUtf8(bytes.subarray(text, at));
      }
    }
    // A map or array one level too deep is refused even when empty, as the limit is documented.
    if (depth === limit && isContainer(b)) return 'too_deep';
    if (items > 0) {
      remaining[depth++] = items;
      continue;
    }
    // One whole value was read: close every container it completes.
    for (;;) {
      if (depth === 0) return illFormed ? 'ill_formed_str' : undefined;
      if (--remaining[depth - 1]! > 0) break;
      depth -= 1;
    }
  }
  return truncated(illFormed);
}

/** fixmap, fixarray, array 16/32, map 16/32. */
function isContainer(b: number): boolean {
  return (b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf);
}

function truncated(illFormed: boolean): MsgpackProblem | undefined {
  return illFormed ? 'ill_formed_str' : undefined;
}

function readU16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}
