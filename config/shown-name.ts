/**
 * How every error message echoes a name it was given (tenant, namespace, stream, cache, key), on both sides:
 * the SDK and CLI (client/) and the broker's refusals (broker/) cut a long one the same way, so a name too
 * long for the broker, or a 64 KiB key, does not fill the message it only has to identify.
 */

/** Characters of a name or string value an error message shows whole (see shownName). */
const SHOWN_CHARS = 64;

/**
 * `name` as error messages echo it: whole up to 64 characters, else its first 64 and its size,
 * `ssss…(256 bytes)`; control characters as `\u0000` escapes.
 */
export function shownName(name: string): string {
  return visible(cut(name));
}

/** `name` cut as shownName cuts it, in double quotes, escaped as a JSON string is. */
export function quotedName(name: string): string {
  return JSON.stringify(cut(name));
}

function cut(name: string): string {
  if (name.length <= SHOWN_CHARS) return name;
  // Not half of a surrogate pair, which would print as U+FFFD.
  const last = name.charCodeAt(SHOWN_CHARS - 1);
  const end = last >= 0xd800 && last <= 0xdbff ? SHOWN_CHARS - 1 : SHOWN_CHARS;
  return `${name.slice(0, end)}…(${Buffer.byteLength(name)} bytes)`;
}

// C0 and C1 controls and DEL: a NUL or an escape sequence in a name a peer chose must not reach a
// terminal or a log line as itself.
// eslint-disable-next-line no-control-regex -- matching control characters is this expression's job
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** `text` with its control characters written as `\uXXXX` escapes, as JSON writes them. */
function visible(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** tenant/namespace/name, each part as shownName shows it. */
export function shownPath(tenant: string, namespace: string, name: string): string {
  return `${shownName(tenant)}/${shownName(namespace)}/${shownName(name)}`;
}
