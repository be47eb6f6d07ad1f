/**
 * How deeply a MessagePack value nests, found by walking its headers without decoding it. msgpackr
 * decodes nested maps and arrays by recursion, so a payload of a few thousand nested maps either exhausts
 * the stack or not depending on how deep the caller already is: refusing deep nesting up front makes the
 * answer the same wherever the decode runs. No Felix message nests more than two levels (a map holding an
 * array of bin), so the limit costs a legitimate client nothing. Skipping over str/bin/ext bodies keeps the
 * walk proportional to the number of values, not to the payload's size.
 */

/** Items still to read in each open container; deep enough for any limit a caller passes. */
const remaining = new Float64Array(256);

/**
 * True when the first value in `bytes` opens more than `maxDepth` nested non-empty maps or arrays. A
 * truncated or invalid value answers false: the decoder reports those with its own message.
 */
export function msgpackNestsDeeperThan(bytes: Uint8Array, maxDepth: number): boolean {
  const limit = Math.min(maxDepth, remaining.length);
  const end = bytes.length;
  let depth = 0;
  let at = 0;
  while (at < end) {
    const b = bytes[at]!;
    let items = 0;
    if (b <= 0x7f || b >= 0xe0) at += 1;
    else if (b <= 0x8f) {
      items = (b & 0x0f) * 2;
      at += 1;
    } else if (b <= 0x9f) {
      items = b & 0x0f;
      at += 1;
    } else if (b <= 0xbf) at += 1 + (b & 0x1f);
    else {
      switch (b) {
        case 0xc4: // bin 8
        case 0xd9: // str 8
          if (at + 2 > end) return false;
          at += 2 + bytes[at + 1]!;
          break;
        case 0xc5:
        case 0xda:
          if (at + 3 > end) return false;
          at += 3 + readU16(bytes, at + 1);
          break;
        case 0xc6:
        case 0xdb:
          if (at + 5 > end) return false;
          at += 5 + readU32(bytes, at + 1);
          break;
        case 0xc7: // ext 8: length, type, data
          if (at + 2 > end) return false;
          at += 3 + bytes[at + 1]!;
          break;
        case 0xc8:
          if (at + 3 > end) return false;
          at += 4 + readU16(bytes, at + 1);
          break;
        case 0xc9:
          if (at + 5 > end) return false;
          at += 6 + readU32(bytes, at + 1);
          break;
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
        case 0xd4:
          at += 3;
          break;
        case 0xd5:
          at += 4;
          break;
        case 0xd6:
          at += 6;
          break;
        case 0xd7:
          at += 10;
          break;
        case 0xd8:
          at += 18;
          break;
        case 0xdc: // array 16
          if (at + 3 > end) return false;
          items = readU16(bytes, at + 1);
          at += 3;
          break;
        case 0xdd:
          if (at + 5 > end) return false;
          items = readU32(bytes, at + 1);
          at += 5;
          break;
        case 0xde: // map 16
          if (at + 3 > end) return false;
          items = readU16(bytes, at + 1) * 2;
          at += 3;
          break;
        case 0xdf:
          if (at + 5 > end) return false;
          items = readU32(bytes, at + 1) * 2;
          at += 5;
          break;
        default: // nil, false, true, and the never-used 0xc1 (the decoder refuses that one)
          at += 1;
      }
    }
    if (items > 0) {
      if (depth === limit) return true;
      remaining[depth++] = items;
      continue;
    }
    // One whole value was read: close every container it completes.
    for (;;) {
      if (depth === 0) return false;
      if (--remaining[depth - 1]! > 0) break;
      depth -= 1;
    }
  }
  return false;
}

function readU16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}
