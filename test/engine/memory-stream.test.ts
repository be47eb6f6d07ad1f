/**
 * The in-memory stream port behaves as transport/stream.ts documents, where an engine could tell the
 * difference: otherwise the engine suites would pass against a kinder transport than the real one.
 */
import { describe, expect, it } from 'vitest';
import { MemoryConnection, MemoryStreamClosedError } from './memory-stream.js';

function clientStream(): { conn: MemoryConnection; s: ReturnType<MemoryConnection['openClientStream']> } {
  const conn = new MemoryConnection();
  return { conn, s: conn.openClientStream(true) };
}

describe('MemoryStream', () => {
  it('keeps write() buffers by reference until the network takes them, and copies a transient prefix at once', () => {
    const { s } = clientStream();
    s.network = 'stalled';
    const kept = Buffer.from('kept');
    const scratch = Buffer.from('AB-body');
    s.write(kept);
    s.writeTransient(scratch, 2);
    kept.write('KEPT');
    scratch.write('xy-BODY');
    expect(s.writableLength).toBe(4 + 7);
    s.networkTake();
    // What the transport sends: write()'s bytes as they are when sent, writeTransient's prefix as written.
    expect(s.received().toString()).toBe('KEPTAB-BODY');
    expect(s.writableLength).toBe(0);
  });

  it('asks the writer to wait above the high-water mark and fires onDrain once back at or below it', () => {
    const { s } = clientStream();
    s.network = 'stalled';
    s.highWaterMark = 10;
    let drains = 0;
    s.onDrain = () => drains++;
    expect(s.write(Buffer.alloc(10))).toBe(true);
    s.networkTake(5);
    expect(drains).toBe(0); // no write was refused: nobody waits
    expect(s.write(Buffer.alloc(10))).toBe(false);
    s.networkTake(4);
    expect(drains).toBe(0); // 11 left, still above the mark
    s.networkTake(1);
    expect(drains).toBe(1);
    s.networkTake();
    expect(drains).toBe(1);
  });

  it('throws on writes after FIN, after a reset, after STOP_SENDING from the client and on a closed connection', () => {
    const a = clientStream();
    a.s.end(Buffer.from('x'));
    expect(a.s.finReceived).toBe(true);
    expect(a.s.writable).toBe(false);
    expect(() => a.s.write(Buffer.from('y'))).toThrow(MemoryStreamClosedError);

    const b = clientStream();
    b.s.reset(0x102);
    expect(b.s.resetCode).toBe(0x102);
    expect(() => b.s.writeTransient(Buffer.from('y'))).toThrow(MemoryStreamClosedError);

    const c = clientStream();
    let stopped: number | null = null;
    c.s.onStopSending = (code) => (stopped = code);
    c.s.clientStopSending(0x202);
    expect(stopped).toBe(0x202);
    expect(c.s.writable).toBe(false);
    expect(() => c.s.end()).toThrow(MemoryStreamClosedError);

    const d = clientStream();
    d.conn.close(1, 'internal error');
    expect(d.s.writable).toBe(false);
    expect(() => d.s.write(Buffer.from('y'))).toThrow(MemoryStreamClosedError);
    expect(() => d.conn.openStream(false)).toThrow(MemoryStreamClosedError);
  });

  it('hands over a chunk valid only during onData, at most 32 KiB per call', () => {
    const { s } = clientStream();
    const views: Buffer[] = [];
    const copies: string[] = [];
    s.onData = (chunk) => {
      views.push(chunk);
      copies.push(chunk.toString('latin1'));
    };
    const big = Buffer.alloc(70 * 1024, 'a');
    s.clientWrite(big);
    expect(copies.map((c) => c.length)).toEqual([32 * 1024, 32 * 1024, 6 * 1024]);
    expect(copies.join('')).toBe(big.toString('latin1'));
    // The views were overwritten once each call returned.
    expect(views[2]!.every((b) => b === 0xee)).toBe(true);
  });

  it('holds received bytes while paused and delivers them on a later turn after resume; discards them after stop', async () => {
    const { s } = clientStream();
    const got: string[] = [];
    let fins = 0;
    s.onData = (chunk, fin) => {
      got.push(chunk.toString());
      if (fin) fins++;
    };
    s.pause();
    s.clientWrite(Buffer.from('one'));
    s.clientWrite(Buffer.from('two'), true);
    expect(got).toEqual([]);
    expect(s.heldBytes).toBe(6);
    s.resume();
    expect(got).toEqual([]);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(got).toEqual(['one', 'two']);
    expect(fins).toBe(1);

    const other = clientStream().s;
    const seen: string[] = [];
    other.onData = (chunk) => seen.push(chunk.toString());
    other.stop(0x101);
    other.clientWrite(Buffer.from('ignored'));
    expect(seen).toEqual([]);
    expect(other.stopCode).toBe(0x101);
  });

  it('records exceptions escaping a handler instead of letting them through', () => {
    const { conn, s } = clientStream();
    s.onData = () => {
      throw new Error('boom');
    };
    s.clientWrite(Buffer.from('x'));
    expect(conn.escaped).toHaveLength(1);
  });
});
