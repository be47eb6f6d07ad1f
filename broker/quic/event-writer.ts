/**
 * One subscriber's event stream: writes the topic's shared frames (flags 0x24, encoded once for every
 * subscriber) in the form this subscriber negotiated. The shared form goes out as the very bytes; the other
 * binary forms as a small per-subscriber header in front of the shared body (no copy of the payloads); the
 * message forms are made once per frame by the first subscriber that needs them and shared from then on.
 */
import {
  EVENT_STAMP_BYTES,
  EVENT_STAMP_PREFIX_BYTES,
  FLAG_BINARY_EVENT_BATCH,
  FLAG_BINARY_EVENT_BATCH_SHARED,
  FLAG_EVENT_BATCH_OFFSETS,
  HEADER_BYTES,
  encodeMessage,
  monotonicNs,
  writeEventStampPrefix,
  writeFrameHeader,
  writeU64,
} from '../../wire/index.js';
import type { EventFrame, FrameTiming } from '../core/event-frame.js';
import { HOP, type HopTimings } from '../core/hop-timings.js';
import type { EventOutput } from '../core/ports.js';
import type { Topic } from '../core/topic.js';
import type { EventEncoding } from './event-encoding.js';
import { messageForms } from './message-forms.js';
import type { ByteStream } from './stream-port.js';

// Shared frames are flags 0x24: header, u64 base offset, u32 count, payloads.
const SHARED_BODY = HEADER_BYTES;
const SHARED_COUNT = HEADER_BYTES + 8;
// Scratch for a per-subscriber header (and subscription id): the transport copies what it cannot send now.
const prefix = Buffer.alloc(HEADER_BYTES + 8);
// A frame's plain header while its TIMINGS form is being written over it.
const plainHeader = new Uint8Array(HEADER_BYTES);

export class EventStreamWriter implements EventOutput {
  onDrain: (() => void) | null = null;
  /**
   * What push() has to send: nothing, bytes quiche took at once (a large frame: its packets wait inside
   * quiche), or bytes in the transport's gather buffer.
   */
  private unpushed: 'none' | 'in_quiche' | 'gathered' = 'none';
  /** The write-ahead this writer was made with (narrowWriteAhead(null) goes back to it). */
  private readonly writeAhead: number;
  readonly notifyDropped?: (throughOffset: number, events: number) => void;

  constructor(
    private readonly stream: ByteStream,
    private readonly subscriptionId: number,
    private readonly topic: Topic,
    private readonly encoding: EventEncoding,
    /** The broker's hop histograms when this subscriber gets stamped frames, else null. */
    private readonly timings: HopTimings | null,
    writeAheadBytes: number,
    /** FELIX_MAX_FRAME_BYTES: no frame this writer sends is longer (message forms can outgrow a payload). */
    private readonly maxFrameBytes: number,
    /** Called for each event skipped because even alone its message form exceeds maxFrameBytes. */
    private readonly onTooLarge: () => void,
  ) {
    stream.highWaterMark = writeAheadBytes;
    this.writeAhead = writeAheadBytes;
    stream.onDrain = () => this.onDrain?.();
    // The hello binds the event stream to its subscription before any event.
    stream.write(
      encodeMessage(
        { type: 'event_stream_hello', subscription_id: subscriptionId },
        { msgpack: encoding.msgpack },
      ),
    );
    if (encoding.dropNotices) {
      this.notifyDropped = (throughOffset, events) => {
        if (!stream.writable) return;
        stream.write(
          encodeMessage(
            { type: 'events_dropped', through_offset: throughOffset, events },
            { msgpack: encoding.msgpack },
          ),
        );
        this.unpushed = stream.writableLength === 0 ? 'in_quiche' : 'gathered';
        this.push();
      };
    }
  }

  get backlogBytes(): number {
    return this.stream.writableLength;
  }

  get waitingBytes(): number {
    return this.stream.waitingLength;
  }

  connectionHasRoom(): boolean {
    return this.stream.connectionHasRoom();
  }

  narrowWriteAhead(bytes: number | null): void {
    this.stream.setHighWaterMark(bytes ?? this.writeAhead);
  }

  write(frame: EventFrame, live: boolean): void {
    const stream = this.stream;
    if (!stream.writable) return;
    this.writeFrame(frame, live);
    this.unpushed = stream.writableLength === 0 ? 'in_quiche' : 'gathered';
  }

  push(): void {
    const unpushed = this.unpushed;
    if (unpushed === 'none') return;
    this.unpushed = 'none';
    // A send takes every stream's gathered bytes on the connection: when another subscription's push on it
    // went first, nothing of ours is left to send and the call is saved (one packet for the connection).
    if (unpushed === 'gathered' && this.stream.writableLength === 0) return;
    if (this.stream.writable) this.stream.sendNow();
  }

  private writeFrame(frame: EventFrame, live: boolean): void {
    const stream = this.stream;
    const encoding = this.encoding;
    switch (encoding.layout) {
      case 'shared':
        if (!encoding.offsets) this.writeWithHeader(frame, FLAG_BINARY_EVENT_BATCH_SHARED, false);
        else if (this.timings !== null && frame.timing !== null && live) {
          this.writeStamped(frame.timing, this.timings);
        } else stream.write(frame.bytes);
        return;
      case 'per_subscription':
        this.writeWithHeader(
          frame,
          FLAG_BINARY_EVENT_BATCH | (encoding.offsets ? FLAG_EVENT_BATCH_OFFSETS : 0),
          true,
        );
        return;
      case 'msgpack':
      case 'json': {
        const forms = messageForms(frame, this.topic, encoding.layout === 'msgpack', this.maxFrameBytes);
        for (let i = 0; i < forms.length; i++) {
          const form = forms[i]!;
          if (form !== null) stream.write(form);
          else this.onTooLarge();
        }
      }
    }
  }

  finish(): void {
    if (this.stream.writable) this.stream.end();
  }

  abort(code: number): void {
    if (this.stream.writable) this.stream.reset(code);
  }

  /** A binary batch other than the shared 0x24 form: its own header (and subscription id), the shared body. */
  private writeWithHeader(frame: EventFrame, flags: number, withSubscription: boolean): void {
    const bytes = frame.bytes;
    const body = (flags & FLAG_EVENT_BATCH_OFFSETS) !== 0 ? SHARED_BODY : SHARED_COUNT;
    let at = HEADER_BYTES;
    if (withSubscription) {
      writeU64(prefix, at, this.subscriptionId);
      at += 8;
    }
    writeFrameHeader(prefix, 0, flags, at - HEADER_BYTES + bytes.length - body);
    this.stream.writeTransient(prefix.subarray(0, at));
    this.stream.write(bytes.subarray(body));
  }

  /** A live frame in its TIMINGS form, with this subscriber's write stamp, as one buffer. */
  private writeStamped(timing: FrameTiming, timings: HopTimings): void {
    // This subscriber's header and stamps are written in the room the batch builder left in front of the
    // shared frame (over its plain header); the transport copies whatever of that prefix it does not send at
    // once, so the plain header is put back right away for other subscribers and the replay log.
    const stamped = timing.stamped;
    const header = EVENT_STAMP_BYTES;
    for (let i = 0; i < HEADER_BYTES; i++) plainHeader[i] = stamped[header + i]!;
    const writeNs = monotonicNs();
    writeEventStampPrefix(stamped, plainHeader, timing.sendNs, timing.decodeNs, timing.enqueueNs, writeNs);
    this.stream.writeTransient(stamped, EVENT_STAMP_PREFIX_BYTES);
    for (let i = 0; i < HEADER_BYTES; i++) stamped[header + i] = plainHeader[i]!;
    timings.record(HOP.queue, writeNs - timing.enqueueNs);
  }
}
