// The server's side of every workload, identical for all stacks (see protocol.ts).
import type { ByteChannel } from './channel.js';
import {
  FrameEchoer,
  TAG_ECHO,
  TAG_SINK,
  cpuMicros,
  encodeEchoSummary,
  encodeSinkSummary,
} from './protocol.js';

export function respond(channel: ByteChannel): void {
  let tag = 0;
  let cpuAtStart = 0;
  let sunkBytes = 0;
  const echoer = new FrameEchoer();

  channel.onData = (chunk) => {
    if (tag === 0) {
      tag = chunk[0]!;
      chunk = chunk.subarray(1);
      cpuAtStart = cpuMicros();
    }
    if (tag === TAG_SINK) {
      sunkBytes += chunk.length;
      return;
    }
    if (tag !== TAG_ECHO || echoer.ended) return;
    const echo = echoer.feed(chunk);
    // The echo's write result is not waited on: the client bounds what is in flight, so what queues
    // here is bounded too.
    if (echo !== null) channel.write(echo);
    if (echoer.ended) channel.write(encodeEchoSummary(cpuMicros() - cpuAtStart));
  };

  channel.onEnd = () => {
    if (tag === TAG_SINK) channel.end(encodeSinkSummary(sunkBytes, cpuMicros() - cpuAtStart));
    else channel.end();
  };
}
