// The client's side of every workload, written once against ByteChannel. Each driver is callback
// driven (no promise per message) and writes immutable, preallocated buffers.
import { performance } from 'node:perf_hooks';
import { build as buildHistogram } from 'hdr-histogram-js';
import type { ByteChannel } from './channel.js';
import {
  ECHO_SUMMARY_BYTES,
  ReplyCollector,
  SINK_SUMMARY_BYTES,
  TAG_ECHO,
  TAG_SINK,
  cpuMicros,
  decodeEchoSummary,
  decodeSinkSummary,
  makeEndFrame,
  makeFrame,
  tagBuffer,
} from './protocol.js';

export type WorkloadSpec =
  | { readonly kind: 'oneway'; readonly writeBytes: number; readonly totalBytes: number }
  | {
      readonly kind: 'pingpong';
      readonly payloadBytes: number;
      readonly roundTrips: number;
      readonly warmupRoundTrips: number;
    }
  | {
      readonly kind: 'pipeline';
      readonly payloadBytes: number;
      readonly frames: number;
      /** Frames sent and not yet echoed, at most. */
      readonly maxInFlight: number;
      /** Frames are written in batches of about this many bytes (one write each). */
      readonly batchBytes: number;
    };

export interface WorkloadResult {
  /** Wall time of the measured part. */
  readonly seconds: number;
  readonly clientCpuSeconds: number;
  /** Server CPU from its first received byte to its summary. */
  readonly serverCpuSeconds: number;
  readonly bytes?: number;
  readonly megabytesPerSecond?: number;
  /** (client + server CPU seconds) per 10^9 bytes delivered. */
  readonly cpuSecondsPerGB?: number;
  readonly roundTrips?: number;
  readonly p50Micros?: number;
  readonly p99Micros?: number;
  readonly framesPerSecond?: number;
}

export function runWorkload(channel: ByteChannel, spec: WorkloadSpec): Promise<WorkloadResult> {
  switch (spec.kind) {
    case 'oneway':
      return oneWay(channel, spec);
    case 'pingpong':
      return pingPong(channel, spec);
    case 'pipeline':
      return pipeline(channel, spec);
  }
}

type SpecOf<K extends WorkloadSpec['kind']> = Extract<WorkloadSpec, { kind: K }>;

function oneWay(channel: ByteChannel, { writeBytes, totalBytes }: SpecOf<'oneway'>): Promise<WorkloadResult> {
  return new Promise((resolve, reject) => {
    const block = Buffer.alloc(writeBytes, 0x5a);
    const reply = new ReplyCollector(SINK_SUMMARY_BYTES);
    let sent = 0;
    let finSent = false;
    channel.write(tagBuffer(TAG_SINK));
    const startedAt = performance.now();
    const cpuAtStart = cpuMicros();

    const pump = (): void => {
      while (sent < totalBytes) {
        const n = Math.min(writeBytes, totalBytes - sent);
        sent += n;
        if (!channel.write(n === writeBytes ? block : block.subarray(0, n))) return;
      }
      if (!finSent) {
        finSent = true;
        channel.end();
      }
    };
    channel.onDrain = pump;
    // The server's summary only leaves after it has received every byte: the clock stops there.
    channel.onData = (chunk) => {
      const summary = reply.push(chunk);
      if (summary === null) return;
      const seconds = (performance.now() - startedAt) / 1000;
      const clientCpuSeconds = (cpuMicros() - cpuAtStart) / 1e6;
      const server = decodeSinkSummary(summary);
      if (server.bytes !== totalBytes) {
        reject(new Error(`server received ${server.bytes} bytes, expected ${totalBytes}`));
        return;
      }
      const serverCpuSeconds = server.cpuMicroseconds / 1e6;
      resolve({
        seconds,
        clientCpuSeconds,
        serverCpuSeconds,
        bytes: totalBytes,
        megabytesPerSecond: totalBytes / seconds / 1e6,
        cpuSecondsPerGB: (clientCpuSeconds + serverCpuSeconds) / (totalBytes / 1e9),
      });
    };
    pump();
  });
}

function pingPong(
  channel: ByteChannel,
  { payloadBytes, roundTrips, warmupRoundTrips }: SpecOf<'pingpong'>,
): Promise<WorkloadResult> {
  return new Promise((resolve) => {
    const frame = makeFrame(payloadBytes);
    const histogram = buildHistogram({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3 });
    const totalRoundTrips = warmupRoundTrips + roundTrips;
    let completed = 0;
    let received = 0;
    let sentAt = 0;
    let startedAt = performance.now();
    let cpuAtStart = cpuMicros();

    channel.onData = (chunk) => {
      received += chunk.length;
      if (received < frame.length) return;
      received -= frame.length;
      const now = performance.now();
      if (completed >= warmupRoundTrips)
        histogram.recordValue(Math.max(1, Math.round((now - sentAt) * 1000)));
      completed++;
      if (completed === warmupRoundTrips) {
        startedAt = now;
        cpuAtStart = cpuMicros();
      }
      if (completed < totalRoundTrips) {
        sentAt = performance.now();
        channel.write(frame);
        return;
      }
      const seconds = (now - startedAt) / 1000;
      const clientCpuSeconds = (cpuMicros() - cpuAtStart) / 1e6;
      awaitEchoSummary(channel, (serverCpuSeconds) =>
        resolve({
          seconds,
          clientCpuSeconds,
          serverCpuSeconds,
          roundTrips,
          p50Micros: histogram.getValueAtPercentile(50),
          p99Micros: histogram.getValueAtPercentile(99),
        }),
      );
    };
    channel.write(tagBuffer(TAG_ECHO));
    sentAt = performance.now();
    channel.write(frame);
  });
}

function pipeline(
  channel: ByteChannel,
  { payloadBytes, frames, maxInFlight, batchBytes }: SpecOf<'pipeline'>,
): Promise<WorkloadResult> {
  return new Promise((resolve) => {
    const frame = makeFrame(payloadBytes);
    const framesPerWrite = Math.max(1, Math.min(maxInFlight, Math.floor(batchBytes / frame.length)));
    const batch = Buffer.concat(Array<Buffer>(framesPerWrite).fill(frame));
    let sent = 0;
    let echoed = 0;
    let receivedBytes = 0;
    let blocked = false;
    let startedAt = 0;
    let cpuAtStart = 0;

    const pump = (): void => {
      while (!blocked && sent < frames) {
        const wanted = Math.min(framesPerWrite, frames - sent);
        // Only whole batches (but the last): refilling one frame at a time would measure tiny writes.
        if (maxInFlight - (sent - echoed) < wanted) return;
        sent += wanted;
        if (!channel.write(wanted === framesPerWrite ? batch : batch.subarray(0, wanted * frame.length)))
          blocked = true;
      }
    };
    channel.onDrain = () => {
      blocked = false;
      pump();
    };
    channel.onData = (chunk) => {
      receivedBytes += chunk.length;
      const complete = Math.floor(receivedBytes / frame.length);
      receivedBytes -= complete * frame.length;
      echoed += complete;
      if (echoed < frames) {
        pump();
        return;
      }
      const seconds = (performance.now() - startedAt) / 1000;
      const clientCpuSeconds = (cpuMicros() - cpuAtStart) / 1e6;
      awaitEchoSummary(channel, (serverCpuSeconds) =>
        resolve({ seconds, clientCpuSeconds, serverCpuSeconds, framesPerSecond: frames / seconds }),
      );
    };
    channel.write(tagBuffer(TAG_ECHO));
    startedAt = performance.now();
    cpuAtStart = cpuMicros();
    pump();
  });
}

/** Ends an echo run: sends END and hands the server's CPU seconds from its summary to `done`. */
function awaitEchoSummary(channel: ByteChannel, done: (serverCpuSeconds: number) => void): void {
  const reply = new ReplyCollector(ECHO_SUMMARY_BYTES);
  channel.onDrain = () => undefined;
  channel.onData = (chunk) => {
    const summary = reply.push(chunk);
    if (summary !== null) done(decodeEchoSummary(summary).cpuMicroseconds / 1e6);
  };
  channel.write(makeEndFrame());
}
