// Cache and publish answers never wait for company: an answer to a lone request is written in the read that
// brought the request, and answers are gathered only within one read (the backlog of requests that arrived
// together), a packet's worth at a time. No timer is involved anywhere, so these assert on writes alone.
import { describe, expect, it } from 'vitest';
import { ANSWERS_PER_PACKET, AnswerWriter } from '../../broker/quic/answer-writer.js';
import type { ByteStream } from '../../broker/quic/stream-port.js';

class RecordingStream implements ByteStream {
  onData = null;
  onDrain = null;
  onReset = null;
  onStopSending = null;
  highWaterMark = Infinity;
  readonly bidirectional = true;
  readonly writable = true;
  readonly writableLength = 0;
  /** Every write, as text, and `|send|` where sendNow was called. */
  readonly log: string[] = [];
  write(data: Uint8Array): boolean {
    this.log.push(Buffer.from(data).toString());
    return true;
  }
  writeTransient(data: Uint8Array): boolean {
    return this.write(data);
  }
  end(): boolean {
    return true;
  }
  reset(): void {}
  stop(): void {}
  watchStopSending(): void {}
  pause(): void {}
  resume(): void {}
  sendNow(): void {
    this.log.push('|send|');
  }

  readonly waitingLength = 0;

  connectionHasRoom(): boolean {
    return true;
  }
  setHighWaterMark(bytes: number): void {
    this.highWaterMark = bytes;
  }

  sendAtTurnEnd(): void {
    this.log.push('|turn-end|');
  }
}

function answer(writer: AnswerWriter, text: string): void {
  writer.append(Buffer.from(text));
}

describe('AnswerWriter', () => {
  it('writes an answer given outside a read at once', () => {
    const stream = new RecordingStream();
    const writer = new AnswerWriter(stream, () => undefined);
    answer(writer, 'a');
    expect(stream.log).toEqual(['a']);
  });

  it('writes a lone request’s answer when its read ends, not later', () => {
    const stream = new RecordingStream();
    const writer = new AnswerWriter(stream, () => undefined);
    writer.beginRead();
    answer(writer, 'a');
    expect(stream.log).toEqual([]);
    writer.endRead();
    expect(stream.log).toEqual(['a']);
  });

  it('gathers the answers of one read into one write per packet’s worth, sent before the rest is handled', () => {
    const stream = new RecordingStream();
    const writer = new AnswerWriter(stream, () => undefined);
    writer.beginRead();
    const texts = Array.from({ length: ANSWERS_PER_PACKET + 2 }, (_, i) => `<${i}>`);
    for (const t of texts) answer(writer, t);
    writer.endRead();
    expect(stream.log).toEqual([
      texts.slice(0, ANSWERS_PER_PACKET).join(''),
      '|send|',
      texts.slice(ANSWERS_PER_PACKET).join(''),
    ]);
  });

  it('holds a read’s answers for the end of the turn only when that read delivered events', () => {
    const stream = new RecordingStream();
    const writer = new AnswerWriter(stream, () => undefined);
    writer.beginRead();
    answer(writer, 'ack');
    writer.answerAfterDeliveries();
    writer.endRead();
    writer.beginRead();
    answer(writer, 'next');
    writer.endRead();
    // Outside a read there is no turn-end flush to wait for.
    writer.answerAfterDeliveries();
    answer(writer, 'late');
    expect(stream.log).toEqual(['ack', '|turn-end|', 'next', 'late']);
  });
});
