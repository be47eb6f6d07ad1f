// docs/protocol.md's "Writing a client: a walk-through" claims to be a session "byte for byte as a felix-ts
// broker sends it": a third-party client is written from it. This test reads the frames out of that
// section, sends the client's ones to a real broker over QUIC exactly as printed, and checks each of the
// broker's against the broker's actual bytes (only the random epoch's digits are let differ). A change to
// the broker's answers or to the document that makes them disagree fails here.
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../wire/index.js';
import { connectRaw, startBroker, until } from './raw-client.js';

const PROTOCOL_MD = fileURLToPath(new URL('../../docs/protocol.md', import.meta.url));

interface DocFrame {
  readonly direction: 'C→B' | 'B→C';
  readonly stream: number;
  readonly flags: number;
  /** The length the header line states. */
  readonly length: number;
  readonly payload: Buffer;
}

const HEADER = /^464c5831 0001 ([0-9a-f]{4}) ([0-9a-f]{8})\b/;
const DIRECTION = /^(C→B|B→C) stream (\d+)$/;

/** The frames of the walk-through's code blocks, in document order. */
function walkthroughFrames(markdown: string): DocFrame[] {
  const start = markdown.indexOf('## Writing a client: a walk-through');
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end);
  const frames: DocFrame[] = [];
  let direction: DocFrame['direction'] | null = null;
  let stream = -1;
  for (const block of section.split('```').filter((_, i) => i % 2 === 1)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    for (let i = 0; i < lines.length; i++) {
      const d = DIRECTION.exec(lines[i]!);
      if (d !== null) {
        direction = d[1] as DocFrame['direction'];
        stream = Number(d[2]);
        continue;
      }
      const h = HEADER.exec(lines[i]!);
      if (h === null || direction === null) continue;
      const flags = parseInt(h[1]!, 16);
      const length = parseInt(h[2]!, 16);
      let payload: Buffer;
      if (lines[i + 1]!.startsWith('{')) payload = Buffer.from(lines[++i]!);
      else {
        // Binary: hex groups at the start of each line (a comment follows after two spaces).
        const parts: Buffer[] = [];
        let got = 0;
        while (got < length && i + 1 < lines.length) {
          const hex = lines[++i]!.split(/\s{2,}/)[0]!.replaceAll(' ', '');
          const bytes = Buffer.from(hex, 'hex');
          parts.push(bytes);
          got += bytes.length;
        }
        payload = Buffer.concat(parts);
      }
      frames.push({ direction, stream, flags, length, payload });
    }
  }
  return frames;
}

/** JSON texts compare with every epoch's digits replaced (the broker picks epochs at random). */
function normalised(payload: Buffer, flags: number): string {
  const text = flags === 0 ? payload.toString() : payload.toString('hex');
  return flags === 0 ? text.replace(/"epoch":\d+/g, '"epoch":<epoch>') : text;
}

/** Every frame read on a stream, as (flags, payload). */
class FrameLog {
  readonly frames: { flags: number; payload: Buffer }[] = [];
  private read = 0;
  readonly decoder = new FrameDecoder({
    onFrame: (flags, payload) => this.frames.push({ flags, payload: Buffer.from(payload) }),
    onError: (e) => this.frames.push({ flags: -1, payload: Buffer.from(String(e)) }),
  });

  async next(what: string): Promise<{ flags: number; payload: Buffer }> {
    await until(() => this.frames.length > this.read, what);
    return this.frames[this.read++]!;
  }
}

describe('protocol.md, Writing a client: a walk-through', () => {
  const frames = walkthroughFrames(fs.readFileSync(PROTOCOL_MD, 'utf8'));

  it('is read whole: a session of client and broker frames, each as long as its header says', () => {
    expect(frames.filter((f) => f.direction === 'C→B').length).toBeGreaterThanOrEqual(3);
    expect(frames.filter((f) => f.direction === 'B→C').length).toBeGreaterThanOrEqual(5);
    for (const f of frames) expect(f.payload.length, f.payload.toString()).toBe(f.length);
  });

  it("is what a broker answers, byte for byte, to the client's frames as printed", async () => {
    const node = await startBroker();
    const conn = await connectRaw(node);
    const streams = new Map<number, FrameLog>();
    const control = conn.openStream();
    const controlLog = new FrameLog();
    control.onData = (chunk) => controlLog.decoder.push(chunk);
    // The client's first bidirectional stream is QUIC stream 0; the broker's first unidirectional one 3.
    streams.set(0, controlLog);
    let brokerStreams = 0;
    conn.onStream = (s) => {
      const log = new FrameLog();
      s.onData = (chunk) => log.decoder.push(chunk);
      streams.set(3 + 4 * brokerStreams++, log);
    };
    for (const f of frames) {
      if (f.direction === 'C→B') {
        expect(f.stream).toBe(0);
        const header = Buffer.alloc(12);
        header.write('FLX1', 0, 'latin1');
        header.writeUInt16BE(1, 4);
        header.writeUInt16BE(f.flags, 6);
        header.writeUInt32BE(f.payload.length, 8);
        control.write(Buffer.concat([header, f.payload]));
        continue;
      }
      const what = `the broker's frame on stream ${f.stream}: ${normalised(f.payload, f.flags)}`;
      await until(() => streams.has(f.stream), `stream ${f.stream}`);
      const actual = await streams.get(f.stream)!.next(what);
      expect({ flags: actual.flags, payload: normalised(actual.payload, actual.flags) }, what).toEqual({
        flags: f.flags,
        payload: normalised(f.payload, f.flags),
      });
    }
  });
});
