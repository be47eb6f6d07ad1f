/**
 * Base64 as Felix writes it (RFC 4648 standard alphabet, padded) and reads it (canonical only). Node's
 * decoder skips invalid characters and accepts missing padding, so a garbled payload would decode to
 * different bytes instead of failing: validate first.
 */
import { WireError } from './errors.js';

const CANONICAL = /^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Decodes canonical padded base64; anything else is `malformed`. */
export function decodeBase64(text: string, field: string): Buffer {
  if (text.length % 4 !== 0 || !CANONICAL.test(text) || !hasZeroPadBits(text)) {
    throw new WireError('malformed', `field ${field} is not canonical base64`);
  }
  return Buffer.from(text, 'base64');
}

/** The bits after the last full byte must be zero, or two texts would decode to the same bytes. */
function hasZeroPadBits(text: string): boolean {
  if (!text.endsWith('=')) return true;
  const twoPads = text.endsWith('==');
  const last = ALPHABET.indexOf(text[text.length - (twoPads ? 3 : 2)]);
  return (last & (twoPads ? 0x0f : 0x03)) === 0;
}
