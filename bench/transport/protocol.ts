// The benchmark's own little protocol, identical on every stack so only the transport differs.
//
// A client stream starts with one tag byte choosing the server's behaviour:
//   SINK  bytes are counted until the client's FIN; the server answers with a SinkSummary and FIN.
//   ECHO  length-prefixed frames ([u32 LE length][payload]) are parsed one by one and echoed back, one
//         write per read (the way a broker batches what one read delivered); a frame header holding
//         END_MARKER ends the run and the server answers with an EchoSummary.
// Summaries carry the server's CPU time, so the client can report CPU for both sides in one JSON line.

export const TAG_SINK = 0x53; // 'S'
export const TAG_ECHO = 0x45; // 'E'
export const END_MARKER = 0xffffffff;
export const FRAME_HEADER_BYTES = 4;

export const SINK_SUMMARY_BYTES = 16;
export const ECHO_SUMMARY_BYTES = 12;

/** CPU microseconds (user + system) this process has used so far. */
export function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

export function tagBuffer(tag: number): Buffer {
  return Buffer.from([tag]);
}

/** One frame with a payload of `payloadBytes`. */
export function makeFrame(payloadBytes: number): Buffer {
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + payloadBytes, 0xa5);
  frame.writeUInt32LE(payloadBytes, 0);
  return frame;
}

export function makeEndFrame(): Buffer {
  const b = Buffer.alloc(FRAME_HEADER_BYTES);
  b.writeUInt32LE(END_MARKER, 0);
  return b;
}

export function encodeSinkSummary(bytes: number, cpuMicroseconds: number): Buffer {
  const b = Buffer.alloc(SINK_SUMMARY_BYTES);
  b.writeDoubleLE(bytes, 0);
  b.writeDoubleLE(cpuMicroseconds, 8);
  return b;
}

export function decodeSinkSummary(b: Buffer): { bytes: number; cpuMicroseconds: number } {
  return { bytes: b.readDoubleLE(0), cpuMicroseconds: b.readDoubleLE(8) };
}

export function encodeEchoSummary(cpuMicroseconds: number): Buffer {
  const b = Buffer.alloc(ECHO_SUMMARY_BYTES);
  b.writeUInt32LE(END_MARKER, 0);
  b.writeDoubleLE(cpuMicroseconds, 4);
  return b;
}

export function decodeEchoSummary(b: Buffer): { cpuMicroseconds: number } {
  return { cpuMicroseconds: b.readDoubleLE(4) };
}

/**
 * Server side of ECHO: parses every frame of a read and copies each into one output buffer, so the
 * answer to a read is a single write. Each frame is copied separately, as a broker copies each message
 * into a subscriber's batch. Chunks may be views of a transport's scratch memory, so nothing is kept
 * without a copy, and a frame split across reads is completed from the next read without re-copying
 * the rest of it.
 */
export class FrameEchoer {
  private partial: Buffer | null = null;
  /** Set once the END frame was seen; later bytes are ignored. */
  ended = false;

  /** Returns the frames completed by this chunk, copied into a fresh buffer, or null. */
  feed(chunk: Buffer): Buffer | null {
    if (this.ended) return null;
    let offset = 0;
    let out: Buffer | null = null;
    let outLength = 0;
    if (this.partial !== null) {
      const completed = this.completePartial(chunk);
      if (completed === null) return null;
      offset = completed.consumed;
      out = Buffer.allocUnsafe(completed.frame.length + chunk.length - offset);
      outLength = completed.frame.copy(out, 0);
    }
    while (chunk.length - offset >= FRAME_HEADER_BYTES) {
      const length = chunk.readUInt32LE(offset);
      if (length === END_MARKER) {
        this.ended = true;
        break;
      }
      const end = offset + FRAME_HEADER_BYTES + length;
      if (end > chunk.length) break;
      // Sized for the rest of the read at once: the output never needs to grow.
      out ??= Buffer.allocUnsafe(chunk.length - offset);
      outLength += chunk.copy(out, outLength, offset, end);
      offset = end;
    }
    if (!this.ended && offset < chunk.length) this.partial = Buffer.from(chunk.subarray(offset));
    return out === null || outLength === 0 ? null : out.subarray(0, outLength);
  }

  /** Extends the carried partial frame from `chunk`; returns it once whole, with the bytes it took. */
  private completePartial(chunk: Buffer): { frame: Buffer; consumed: number } | null {
    let partial = this.partial!;
    let consumed = 0;
    if (partial.length < FRAME_HEADER_BYTES) {
      consumed = Math.min(FRAME_HEADER_BYTES - partial.length, chunk.length);
      partial = Buffer.concat([partial, chunk.subarray(0, consumed)]);
      if (partial.length < FRAME_HEADER_BYTES) {
        this.partial = partial;
        return null;
      }
    }
    const length = partial.readUInt32LE(0);
    if (length === END_MARKER) {
      this.ended = true;
      this.partial = null;
      return null;
    }
    const missing = FRAME_HEADER_BYTES + length - partial.length;
    const take = Math.min(missing, chunk.length - consumed);
    partial = Buffer.concat([partial, chunk.subarray(consumed, consumed + take)]);
    consumed += take;
    if (take < missing) {
      this.partial = partial;
      return null;
    }
    this.partial = null;
    return { frame: partial, consumed };
  }
}

/** Collects the first `size` bytes of a reply that may arrive in pieces. */
export class ReplyCollector {
  private readonly buffer: Buffer;
  private filled = 0;

  constructor(readonly size: number) {
    this.buffer = Buffer.alloc(size);
  }

  /** Returns the complete reply once `size` bytes have arrived, null before. */
  push(chunk: Buffer): Buffer | null {
    if (this.filled >= this.size) return null;
    this.filled += chunk.copy(this.buffer, this.filled, 0, Math.min(chunk.length, this.size - this.filled));
    return this.filled === this.size ? this.buffer : null;
  }
}
