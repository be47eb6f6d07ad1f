// Frames no answer comes for (unacknowledged publishes) leave when the code that sent them is done, not at
// the transport's next flush: the request stream asks the transport to send once per run of sends, and
// never for requests, whose answers carry the caller's next request.
import { describe, expect, it } from 'vitest';
import { PendingReply } from '../../client/pending-requests.js';
import { RequestStream } from '../../client/request-stream.js';
import { KNOWN_FEATURES, KNOWN_FLAGS, encodeJsonMessage } from '../../wire/index.js';
import { FakeConnection, settle } from './fakes.js';

const authOk = encodeJsonMessage({
  type: 'auth_ok',
  server_flags: KNOWN_FLAGS,
  server_features: KNOWN_FEATURES,
});

async function openStream() {
  const connection = new FakeConnection();
  const stream = new RequestStream(Promise.resolve(connection.asConnection()), {
    label: 'publish stream 0',
    tenant: 't1',
    token: '',
    maxFrameBytes: 1 << 20,
    requestTimeoutMs: 60_000,
    connectTimeoutMs: 60_000,
    maxQueuedBytes: 1 << 20,
    onWarning: () => undefined,
  });
  await settle();
  connection.opened[0]!.receive(authOk);
  await stream.ready;
  return { stream, wire: connection.opened[0]! };
}

/** Runs what process.nextTick queued before this call. */
function afterTicks(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

describe('unanswered frames', () => {
  it('are put on the wire once per run of sends, after the run, in order', async () => {
    const { stream, wire } = await openStream();
    const before = wire.sendNows;
    stream.send(Buffer.from('one'));
    stream.send(Buffer.from('two'));
    stream.send(Buffer.from('three'));
    // Written at once, pushed only when the run is over: the three leave together.
    expect(wire.writes.slice(-3).map(String)).toEqual(['one', 'two', 'three']);
    expect(wire.sendNows).toBe(before);
    await afterTicks();
    expect(wire.sendNows).toBe(before + 1);

    stream.send(Buffer.from('four'));
    await afterTicks();
    expect(wire.sendNows).toBe(before + 2);
    expect(String(wire.writes.at(-1))).toBe('four');
  });

  it('are not pushed for requests, whose answers carry what follows', async () => {
    const { stream, wire } = await openStream();
    const before = wire.sendNows;
    stream.request(Buffer.from('acked'), stream.nextRequestId(), new PendingReply<void>());
    await afterTicks();
    await settle();
    expect(String(wire.writes.at(-1))).toBe('acked');
    expect(wire.sendNows).toBe(before);
  });
});
