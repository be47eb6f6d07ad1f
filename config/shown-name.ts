/**
 * How every error message echoes a name it was given (tenant, namespace, stream, cache, key), on both sides:
 * the SDK and CLI (client/) and the broker's refusals (broker/) cut a long one the same way, so a name too
 * long for the broker, or a 64 KiB key, does not fill the message it only has to identify.
 */

/** Characters of a name or string value an error message shows whole (see shownName). */
const SHOWN_CHARS = 64;

/**
 * `name` as error messages echo it: whole up to 64 characters, else its first 64 and its size,
 * `ssss…(256 bytes)`.
 */
export function shownName(name: string): string {
  if (name.length <= SHOWN_CHARS) return name;
  // Not half of a surrogate pair, which would print as U+FFFD.
  const last = name.charCodeAt(SHOWN_CHARS - 1);
  const end = last >= 0xd800 && last <= 0xdbff ? SHOWN_CHARS - 1 : SHOWN_CHARS;
  return `${name.slice(0, end)}…(${Buffer.byteLength(name)} bytes)`;
}

/** tenant/namespace/name, each part as shownName shows it. */
export function shownPath(tenant: string, namespace: string, name: string): string {
  return `${shownName(tenant)}/${shownName(namespace)}/${shownName(name)}`;
}
