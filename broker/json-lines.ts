/**
 * Reading a child process that writes one JSON object per line — the broker's pino log, the impairment
 * proxy's reports. Lines come from node:readline (a line may arrive in several chunks); a line that is not
 * a JSON object (a stray print, a stack trace) is skipped. The stream is read to its end, so a chatty
 * child never blocks on a full pipe.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export type JsonLine = Record<string, unknown>;

/**
 * Calls `onEntry` with each JSON object `stream` writes, one per line, in order, until the returned function
 * is called; after that the stream is still read to its end, unparsed.
 */
export function onJsonLines(stream: Readable, onEntry: (entry: JsonLine) => void): () => void {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  // readline still hands over the rest of a chunk's lines after close().
  let stopped = false;
  lines.on('line', (line) => {
    if (stopped) return;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) onEntry(entry as JsonLine);
  });
  return () => {
    stopped = true;
    lines.close();
    stream.resume();
  };
}
