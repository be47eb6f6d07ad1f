import { afterEach, describe, expect, it } from 'vitest';
import { CacheClient } from '../../client/cache-client.js';
import { CacheDispatcher } from '../../client/cache-dispatcher.js';
import { FelixError } from '../../client/errors.js';
import { negotiate } from '../../client/negotiation.js';
import { WorkerPool } from '../../client/worker-pool.js';
import type { Endpoint } from '../../transport/index.js';
import {
  FEATURE_CACHE_DELETE,
  allocateFrame,
  FLAG_MSGPACK,
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  encodeJsonMessage,
  encodeMessage,
  type Message,
} from '../../wire/index.js';
import { FakeConnection, settle, type FakeStream } from './fakes.js';

interface Setup {
  connections?: number;
  streamsPerConnection?: number;
  maxInFlight?: number;
  requestTimeoutMs?: number;
  waitTimeoutMs?: number;
  serverFlags?: number;
  serverFeatures?: number;
}

const clients: CacheClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

/** A cache client over fake connections: every stream it opens is a FakeStream the test answers. */
function setup(options: Setup = {}) {
  const {
    connections = 1,
    streamsPerConnection = 1,
    maxInFlight = 64,
    requestTimeoutMs = 60_000,
    waitTimeoutMs = requestTimeoutMs,
    serverFlags = KNOWN_FLAGS,
    serverFeatures = KNOWN_FEATURES,
  } = options;
  const opened: FakeConnection[] = [];
  const endpoint = {
    connect: () => {
      const connection = new FakeConnection();
      opened.push(connection);
      return Promise.resolve(connection.asConnection());
    },
  } as unknown as Endpoint;
  const pool = new WorkerPool({
    name: 'cache',
    connections: { size: connections, endpoint: () => Promise.resolve(endpoint), connectTimeoutMs: 60_000 },
    streamsPerConnection,
    stream: {
      tenant: 't1',
      token: '',
      maxFrameBytes: 1 << 20,
      requestTimeoutMs,
      connectTimeoutMs: 60_000,
      maxQueuedBytes: Number.POSITIVE_INFINITY,
      onWarning: () => {},
    },
  });
  const dispatcher = new CacheDispatcher(pool, {
    connections,
    maxInFlightPerLane: maxInFlight,
    waitTimeoutMs,
  });
  const negotiated = negotiate({
    type: 'auth_ok',
    server_flags: serverFlags,
    server_features: serverFeatures,
  });
  const cache = new CacheClient(dispatcher, negotiated, {
    tenant: 't1',
    maxFrameBytes: 1 << 20,
    allocate: allocateFrame,
  });
  clients.push(cache);
  const authOk = encodeJsonMessage({
    type: 'auth_ok',
    server_flags: serverFlags,
    server_features: serverFeatures,
  });
  const authenticated = new Set<FakeStream>();
  const msgpack = (serverFlags & FLAG_MSGPACK) !== 0;

  /** Every stream opened so far, authenticated (auth_ok answered) once. */
  async function streams(): Promise<FakeStream[]> {
    await settle();
    const all = opened.flatMap((c) => c.opened);
    for (const stream of all) {
      if (!authenticated.has(stream)) {
        authenticated.add(stream);
        stream.receive(authOk);
      }
    }
    await settle();
    return all;
  }

  /** The requests a stream carried (auth left out). */
  function requests(
    stream: FakeStream,
  ): Extract<Message, { type: 'cache_put' | 'cache_get' | 'cache_delete' }>[] {
    return stream
      .frames()
      .map((f) => f.message)
      .filter((m) => m.type !== 'auth') as never;
  }

  function answer(stream: FakeStream, message: Message): void {
    stream.receive(encodeMessage(message, { msgpack }));
  }

  return { cache, dispatcher, opened, streams, requests, answer };
}

const address = { tenant_id: 't1', namespace: 'default', cache: 'primary' };

function track<T>(promise: Promise<T>) {
  const state: { done: boolean; value?: T; error?: FelixError } = { done: false };
  promise.then(
    (value) => Object.assign(state, { done: true, value }),
    (error: FelixError) => Object.assign(state, { done: true, error }),
  );
  return state;
}

describe('CacheClient', () => {
  it('matches answers to requests by request_id, in whatever order they come', async () => {
    const { cache, streams, requests, answer } = setup();
    const hit = track(cache.get('default', 'primary', 'hit'));
    const miss = track(cache.get('default', 'primary', 'miss'));
    const put = track(cache.put('default', 'primary', 'new', 'value', { ttlMs: 1000 }));
    const removed = track(cache.delete('default', 'primary', 'old'));
    const absent = track(cache.delete('default', 'primary', 'never'));
    const [wire] = await streams();
    const sent = requests(wire!);
    expect(sent.map((m) => [m.type, m.key])).toEqual([
      ['cache_get', 'hit'],
      ['cache_get', 'miss'],
      ['cache_put', 'new'],
      ['cache_delete', 'old'],
      ['cache_delete', 'never'],
    ]);
    expect(sent[2]).toMatchObject({ ...address, ttl_ms: 1000 });
    expect(Buffer.from((sent[2] as { value: Uint8Array }).value).toString()).toBe('value');
    expect(new Set(sent.map((m) => m.request_id)).size).toBe(5);

    // Answers in reverse order: each must reach the caller whose request_id it carries.
    const id = (i: number) => sent[i]!.request_id!;
    answer(wire!, { type: 'cache_value', ...address, key: 'never', value: null, request_id: id(4) });
    answer(wire!, {
      type: 'cache_value',
      ...address,
      key: 'old',
      value: Buffer.from('gone'),
      request_id: id(3),
    });
    answer(wire!, { type: 'cache_ok', request_id: id(2) });
    answer(wire!, { type: 'cache_value', ...address, key: 'miss', value: null, request_id: id(1) });
    answer(wire!, {
      type: 'cache_value',
      ...address,
      key: 'hit',
      value: Buffer.from('stored'),
      request_id: id(0),
    });
    await settle();
    expect(Buffer.from(hit.value as Uint8Array).toString()).toBe('stored');
    expect(miss).toEqual({ done: true, value: undefined });
    expect(put).toEqual({ done: true, value: undefined });
    expect(removed).toEqual({ done: true, value: true });
    expect(absent).toEqual({ done: true, value: false });
  });

  it('keeps at most FELIX_CACHE_STREAM_MAX_INFLIGHT unanswered per stream; the rest wait in order', async () => {
    const { cache, dispatcher, streams, requests, answer } = setup({ maxInFlight: 2 });
    const results = ['a', 'b', 'c', 'd', 'e'].map((key) => track(cache.get('default', 'primary', key)));
    const [wire] = await streams();
    expect(requests(wire!).map((m) => m.key)).toEqual(['a', 'b']);
    expect(dispatcher.inFlight).toBe(2);
    expect(dispatcher.waitingCount).toBe(3);

    const b = requests(wire!)[1]!;
    answer(wire!, { type: 'cache_value', ...address, key: 'b', value: null, request_id: b.request_id });
    await settle();
    expect(requests(wire!).map((m) => m.key)).toEqual(['a', 'b', 'c']);
    expect(results[1]!.done).toBe(true);
    expect(results[0]!.done).toBe(false);

    for (const m of requests(wire!).filter((r) => r.key !== 'b')) {
      answer(wire!, { type: 'cache_value', ...address, key: m.key, value: null, request_id: m.request_id });
    }
    await settle();
    const later = requests(wire!).slice(3);
    expect(later.map((m) => m.key)).toEqual(['d', 'e']);
    for (const m of later) {
      answer(wire!, { type: 'cache_value', ...address, key: m.key, value: null, request_id: m.request_id });
    }
    await settle();
    expect(results.every((r) => r.done && r.error === undefined)).toBe(true);
    expect(dispatcher.inFlight).toBe(0);
    expect(dispatcher.waitingCount).toBe(0);
  });

  it("fills the first stream, then the connection's other streams, then the next connection", async () => {
    const { cache, opened, streams, requests } = setup({
      connections: 2,
      streamsPerConnection: 2,
      maxInFlight: 3,
    });
    for (let i = 0; i < 8; i++) void cache.get('default', 'primary', `k${i}`);
    const all = await streams();
    expect(opened.length).toBe(2);
    expect(all.length).toBe(3);
    // Lane i is on connection i mod 2: lanes 0 and 2 on the first connection, lane 1 on the second.
    const [lane0, lane2] = opened[0]!.opened;
    const [lane1] = opened[1]!.opened;
    expect(requests(lane0!).map((m) => m.key)).toEqual(['k0', 'k1', 'k2']);
    expect(requests(lane2!).map((m) => m.key)).toEqual(['k3', 'k4', 'k5']);
    expect(requests(lane1!).map((m) => m.key)).toEqual(['k6', 'k7']);
  });

  it("keeps a key's requests on its stream, in issue order, while one of them is in flight", async () => {
    const { cache, dispatcher, opened, streams, requests, answer } = setup({
      connections: 2,
      streamsPerConnection: 2,
      maxInFlight: 2,
    });
    const firstPut = track(cache.put('default', 'primary', 'hot', 'v1'));
    void cache.get('default', 'primary', 'a');
    // Lane 0 is full: fill order would put these on lane 2; the key's order keeps them on lane 0, behind v1.
    const secondPut = track(cache.put('default', 'primary', 'hot', 'v2'));
    const read = track(cache.get('default', 'primary', 'hot'));
    // Another key is not held back by them: it takes the next lane with room.
    void cache.get('default', 'primary', 'b');
    await streams();
    const [lane0, lane2] = opened[0]!.opened;
    expect(requests(lane0!).map((m) => [m.type, m.key])).toEqual([
      ['cache_put', 'hot'],
      ['cache_get', 'a'],
    ]);
    expect(requests(lane2!).map((m) => m.key)).toEqual(['b']);
    expect(dispatcher.waitingCount).toBe(2);

    answer(lane0!, { type: 'cache_ok', request_id: requests(lane0!)[0]!.request_id! });
    await settle();
    expect(firstPut.done).toBe(true);
    const next = requests(lane0!).slice(2);
    expect(next.map((m) => [m.type, m.key])).toEqual([['cache_put', 'hot']]);
    expect(Buffer.from((next[0] as { value: Uint8Array }).value).toString()).toBe('v2');
    // The get waits for room on lane 0 although lane 2 has some.
    expect(dispatcher.waitingCount).toBe(1);
    expect(requests(lane2!).map((m) => m.key)).toEqual(['b']);

    answer(lane0!, {
      type: 'cache_value',
      ...address,
      key: 'a',
      value: null,
      request_id: requests(lane0!)[1]!.request_id,
    });
    await settle();
    expect(
      requests(lane0!)
        .slice(3)
        .map((m) => [m.type, m.key]),
    ).toEqual([['cache_get', 'hot']]);
    for (const m of requests(lane0!).slice(2)) {
      answer(
        lane0!,
        m.type === 'cache_put'
          ? { type: 'cache_ok', request_id: m.request_id! }
          : {
              type: 'cache_value',
              ...address,
              key: m.key,
              value: Buffer.from('v2'),
              request_id: m.request_id,
            },
      );
    }
    await settle();
    expect(secondPut.done && read.done).toBe(true);
    expect(Buffer.from(read.value as Uint8Array).toString()).toBe('v2');
    expect(dispatcher.orderedKeys).toBe(1); // 'b' is still in flight
    const b = requests(lane2!)[0]!;
    answer(lane2!, { type: 'cache_value', ...address, key: 'b', value: null, request_id: b.request_id });
    await settle();
    expect(dispatcher.orderedKeys).toBe(0);
    expect(dispatcher.inFlight).toBe(0);

    // With nothing in flight the key is free again: its next request takes the first lane with room.
    void cache.get('default', 'primary', 'x');
    void cache.get('default', 'primary', 'y');
    void cache.put('default', 'primary', 'hot', 'v3');
    await settle();
    expect(
      requests(lane2!)
        .slice(1)
        .map((m) => m.key),
    ).toEqual(['hot']);
  });

  it('forgets the order of a key whose waiting requests time out or are closed', async () => {
    const { cache, dispatcher, streams, requests, answer } = setup({ maxInFlight: 1, waitTimeoutMs: 40 });
    const first = cache.put('default', 'primary', 'k', 'v1');
    const waited = cache.put('default', 'primary', 'k', 'v2').catch((e: unknown) => e);
    const [wire] = await streams();
    expect(((await waited) as FelixError).code).toBe('timeout');
    expect(dispatcher.orderedKeys).toBe(1);
    answer(wire!, { type: 'cache_ok', request_id: requests(wire!)[0]!.request_id! });
    await first;
    expect(dispatcher.orderedKeys).toBe(0);
    void cache.put('default', 'primary', 'k', 'v3');
    const closed = cache.put('default', 'primary', 'k', 'v4').catch((e: unknown) => e);
    cache.close();
    await expect(closed).resolves.toMatchObject({ code: 'not_connected', retry: 'fatal' });
    expect(dispatcher.waitingCount).toBe(0);
  });

  it('keeps light traffic on one stream', async () => {
    const { cache, streams, requests, answer } = setup({ connections: 2, streamsPerConnection: 2 });
    for (let i = 0; i < 3; i++) {
      const pending = cache.get('default', 'primary', `k${i}`);
      const all = await streams();
      const m = requests(all[0]!).at(-1)!;
      answer(all[0]!, { type: 'cache_value', ...address, key: m.key, value: null, request_id: m.request_id });
      await pending;
    }
    expect((await streams()).length).toBe(1);
  });

  it("turns the broker's error answers into typed errors; the stream goes on", async () => {
    const { cache, streams, requests, answer } = setup();
    const big = cache.put('default', 'primary', 'k', Buffer.alloc(10));
    const unknown = cache.get('default', 'other', 'k');
    const confused = cache.get('default', 'primary', 'k');
    const fine = cache.get('default', 'primary', 'k');
    const [wire] = await streams();
    const [p, u, c, f] = requests(wire!);
    answer(wire!, {
      type: 'error',
      message: 'cache value is 10 bytes; the limit is 4 (FELIX_CACHE_MAX_VALUE_BYTES)',
      code: 'limit_exceeded',
      request_id: p!.request_id,
    });
    answer(wire!, { type: 'error', message: 'no cache other', code: 'not_found', request_id: u!.request_id });
    answer(wire!, { type: 'cache_ok', request_id: c!.request_id! });
    answer(wire!, {
      type: 'cache_value',
      ...address,
      key: 'k',
      value: Buffer.from('v'),
      request_id: f!.request_id,
    });

    const limit = (await big.catch((e: unknown) => e)) as FelixError;
    expect(limit).toBeInstanceOf(FelixError);
    expect(limit.code).toBe('limit_exceeded');
    expect(limit.brokerCode).toBe('limit_exceeded');
    expect(limit.message).toContain('the limit is 4 (FELIX_CACHE_MAX_VALUE_BYTES)');
    expect(limit.message).toContain('cache_put of key "k" in t1/default/primary');
    // The broker sent no class: its code's default (fatal), not the class of the SDK's own limit_exceeded.
    expect(limit.retry).toBe('fatal');
    const notFound = (await unknown.catch((e: unknown) => e)) as FelixError;
    expect([notFound.code, notFound.brokerCode]).toEqual(['broker_error', 'not_found']);
    const protocolError = (await confused.catch((e: unknown) => e)) as FelixError;
    expect(protocolError.code).toBe('protocol_error');
    // The stream it came on was ended: what was in flight there may have been applied.
    expect(protocolError.retry).toBe('outcome_unknown');
    expect(Buffer.from((await fine)!).toString()).toBe('v');
  });

  it('fails a request with timeout when no answer comes, and frees its slot', async () => {
    const { cache, streams, requests, answer } = setup({ maxInFlight: 1, requestTimeoutMs: 40 });
    const lost = cache.get('default', 'primary', 'lost');
    const [wire] = await streams();
    const error = (await lost.catch((e: unknown) => e)) as FelixError;
    expect(error.code).toBe('timeout');
    expect(error.message).toContain('cache_get of key "lost"');

    const next = cache.get('default', 'primary', 'next');
    await settle();
    const m = requests(wire!).at(-1)!;
    expect(m.key).toBe('next');
    answer(wire!, { type: 'cache_value', ...address, key: 'next', value: null, request_id: m.request_id });
    expect(await next).toBeUndefined();
  });

  it('fails a request that waited too long for a slot, unsent', async () => {
    const { cache, streams, requests, answer } = setup({ maxInFlight: 1, waitTimeoutMs: 40 });
    const first = cache.get('default', 'primary', 'first');
    const second = cache.get('default', 'primary', 'second').catch((e: unknown) => e);
    const [wire] = await streams();
    const error = (await second) as FelixError;
    expect(error.code).toBe('timeout');
    expect(error.message).toContain('cache_get of key "second" in t1/default/primary: not sent');
    const m = requests(wire!)[0]!;
    expect(requests(wire!).map((r) => r.key)).toEqual(['first']);
    answer(wire!, { type: 'cache_value', ...address, key: 'first', value: null, request_id: m.request_id });
    expect(await first).toBeUndefined();
  });

  it('fails what is in flight when the stream ends, and opens a new stream for the next request', async () => {
    const { cache, dispatcher, streams, requests, answer } = setup();
    const pending = cache.get('default', 'primary', 'k').catch((e: unknown) => e);
    const [wire] = await streams();
    wire!.onReset?.(7);
    expect(((await pending) as FelixError).code).toBe('connection_closed');
    expect(dispatcher.inFlight).toBe(0);

    const again = cache.get('default', 'primary', 'k');
    const all = await streams();
    expect(all.length).toBe(2);
    const m = requests(all[1]!)[0]!;
    answer(all[1]!, {
      type: 'cache_value',
      ...address,
      key: 'k',
      value: Buffer.from('v'),
      request_id: m.request_id,
    });
    expect(Buffer.from((await again)!).toString()).toBe('v');
  });

  it('speaks JSON to a broker that does not confirm MessagePack', async () => {
    const { cache, streams, answer } = setup({ serverFlags: KNOWN_FLAGS & ~FLAG_MSGPACK });
    const got = cache.get('default', 'primary', 'k');
    const stored = cache.put('default', 'primary', 'k', Buffer.from([0, 255, 1]));
    const [wire] = await streams();
    const frames = wire!.frames().slice(1);
    expect(frames.map((f) => f.flags)).toEqual([0, 0]);
    const [g, p] = frames.map((f) => f.message) as { request_id: number }[];
    answer(wire!, {
      type: 'cache_value',
      ...address,
      key: 'k',
      value: Buffer.from([9, 8]),
      request_id: g!.request_id,
    });
    answer(wire!, { type: 'cache_ok', request_id: p!.request_id });
    expect([...(await got)!]).toEqual([9, 8]);
    await stored;
  });

  it('refuses delete to a broker without CACHE_DELETE, and bad arguments, without sending', async () => {
    const { cache, streams } = setup({ serverFeatures: KNOWN_FEATURES & ~FEATURE_CACHE_DELETE });
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: FelixError) => e.code,
      );
    expect(await code(cache.delete('default', 'primary', 'k'))).toBe('broker_error');
    expect(await code(cache.put('default', 'primary', 'k', 'v', { ttlMs: -1 }))).toBe('invalid_argument');
    expect(await code(cache.put('default', 'primary', 'k', 'v', { ttlMs: 1.5 }))).toBe('invalid_argument');
    // A string that looks like a number is named as a string.
    await expect(
      cache.put('default', 'primary', 'k', 'v', { ttlMs: '100' as unknown as number }),
    ).rejects.toThrow('ttlMs must be a positive integer or null, got "100"');
    expect(await code(cache.put('default', 'primary', 'k', 42 as unknown as string))).toBe(
      'invalid_argument',
    );
    expect(await code(cache.get('default', 'primary', 7 as unknown as string))).toBe('invalid_argument');
    // The broker would refuse an empty key: refused at the call instead.
    expect(await code(cache.put('default', 'primary', '', 'v'))).toBe('invalid_argument');
    expect(await code(cache.get('default', 'primary', ''))).toBe('invalid_argument');
    // Lone surrogates have no UTF-8 form (they would become U+FFFD, another key); a pair is fine.
    for (const key of ['\ud800', 'a\udc00b']) {
      expect(await code(cache.get('default', 'primary', key))).toBe('invalid_argument');
    }
    expect(await code(cache.put('default', 'primary', 'k', Buffer.alloc(2 << 20)))).toBe('payload_too_large');
    expect(await streams()).toEqual([]);
  });

  it('after close, fails waiting requests and every new one with not_connected', async () => {
    const { cache, streams } = setup({ maxInFlight: 1 });
    const first = track(cache.get('default', 'primary', 'a'));
    const waiting = cache.get('default', 'primary', 'b').catch((e: FelixError) => e.code);
    await streams();
    cache.close();
    expect(await waiting).toBe('not_connected');
    expect(await cache.get('default', 'primary', 'c').catch((e: FelixError) => e.code)).toBe('not_connected');
    expect(first.done).toBe(false);
  });
});
