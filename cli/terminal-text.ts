/**
 * Which characters of a text the CLI must not print as they are: control characters would garble a
 * terminal (an escape sequence in them is obeyed — C1's CSI, U+009B, as well as ESC) or, for a line-based
 * output, break its one-record-per-line format (line breaks, and Unicode's line and paragraph separators).
 */

/** Whether `text` holds a character that is not plain text to print; tab always is. */
export function holdsControlCharacters(text: string, options: { readonly lineBreaks: boolean }): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === 0x09) continue;
    if (code === 0x0a || code === 0x0d || code === 0x2028 || code === 0x2029) {
      if (options.lineBreaks) continue;
      return true;
    }
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}
