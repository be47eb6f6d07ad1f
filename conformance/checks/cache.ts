// Cache operations: docs/protocol.md "Cache".
import { FEATURE_CACHE_DELETE, supportsFeature, type MessageOf } from '../../wire/index.js';
import type { CheckContext } from '../context.js';
import { describeFrame } from '../describe.js';
import { CheckFailure, expectThat } from '../failure.js';
import { area } from '../registry.js';
import { NAMESPACE, type AuthedStream } from '../session.js';

type CacheValue = MessageOf<'cache_value'>;

/** A cache and the requests on it, each numbered and answered in order. */
class CacheClient {
  readonly cache: string;

  constructor(
    readonly s: AuthedStream,
    ctx: CheckContext,
    /** Send requests as MessagePack. */
    private readonly msgpack = false,
  ) {
    this.cache = ctx.names.next('cache');
  }

  private address(key: string) {
    return { tenant_id: this.s.tenant, namespace: NAMESPACE, cache: this.cache, key };
  }

  async put(key: string, value: string, ttlMs: number | null = null): Promise<void> {
    const id = this.s.nextRequestId();
    this.s.send(
      { type: 'cache_put', ...this.address(key), value: Buffer.from(value), request_id: id, ttl_ms: ttlMs },
      this.msgpack,
    );
    const ok = await this.s.expect('cache_ok', `cache_ok for put ${id}`);
    expectThat(ok.request_id === id, `cache_ok names request ${ok.request_id}, sent ${id}`);
  }

  async get(key: string): Promise<string | null> {
    return this.read('cache_get', key);
  }

  async delete(key: string): Promise<string | null> {
    return this.read('cache_delete', key);
  }

  private async read(type: 'cache_get' | 'cache_delete', key: string): Promise<string | null> {
    const id = this.s.nextRequestId();
    this.s.send({ type, ...this.address(key), request_id: id }, this.msgpack);
    const v: CacheValue = await this.s.expect('cache_value', `cache_value answering ${type} ${id}`);
    expectThat(v.request_id === id, `cache_value names request ${v.request_id}, sent ${id}`);
    expectThat(
      v.tenant_id === this.s.tenant && v.namespace === NAMESPACE && v.cache === this.cache && v.key === key,
      `cache_value does not echo the address asked for: ${JSON.stringify({ ...v, value: undefined })}`,
    );
    return v.value === null ? null : Buffer.from(v.value).toString('utf8');
  }
}

function servesDelete(s: AuthedStream): boolean {
  return supportsFeature(
    s.authReply.type === 'auth_ok' ? (s.authReply.server_features ?? 0) : 0,
    FEATURE_CACHE_DELETE,
  );
}

/** put, get, delete and miss, in one encoding. */
async function roundTrip(ctx: CheckContext, msgpack: boolean): Promise<string | void> {
  const s = await ctx.authed(undefined, msgpack ? { flags: 0x3f | 0x40 } : {});
  if (msgpack) expectThat(s.msgpack, 'the broker did not confirm MSGPACK (0x40) in server_flags');
  const c = new CacheClient(s, ctx, msgpack);
  await c.put('k', 'value-1');
  expectThat((await c.get('k')) === 'value-1', 'get after put does not return the value put');
  await c.put('k', 'value-2');
  expectThat((await c.get('k')) === 'value-2', 'a second put does not replace the value');
  expectThat((await c.get('missing')) === null, 'a get of a missing key does not answer value null');
  if (!servesDelete(s)) return 'CACHE_DELETE not advertised: delete not checked';
  expectThat((await c.delete('k')) === 'value-2', 'cache_delete does not answer the removed value');
  expectThat((await c.get('k')) === null, 'the key is still there after cache_delete');
  expectThat((await c.delete('k')) === null, 'deleting a missing key does not answer value null');
}

export const cacheChecks = area('cache', {
  async put_get_delete_json(ctx) {
    return roundTrip(ctx, false);
  },

  async put_get_delete_msgpack(ctx) {
    return roundTrip(ctx, true);
  },

  /** A JSON request on a MessagePack stream is answered in MessagePack. */
  async json_request_msgpack_reply(ctx) {
    const s = await ctx.authed(undefined, { flags: 0x7f });
    const c = new CacheClient(s, ctx, false);
    await c.put('k', 'v'); // expect() checks the reply's flags are 0x40
    expectThat((await c.get('k')) === 'v', 'get after put does not return the value put');
  },

  /** ttl_ms: gone once it passes; null: kept. */
  async ttl_expiry(ctx) {
    const s = await ctx.authed();
    const c = new CacheClient(s, ctx);
    const ttlMs = 300;
    await c.put('forever', 'kept', null);
    await c.put('short', 'brief', ttlMs);
    const deadline = Date.now() + ttlMs + ctx.settings.target.timeoutMs;
    for (;;) {
      const value = await c.get('short');
      if (value === null) break;
      expectThat(value === 'brief', `get of a key with TTL returned ${value}`);
      if (Date.now() > deadline)
        throw new CheckFailure(
          `a key put with ttl_ms ${ttlMs} was still there ${ctx.settings.target.timeoutMs} ms after it expired`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
    expectThat((await c.get('forever')) === 'kept', 'a key with ttl_ms null expired');
  },

  /** ttl_ms 0 is refused (it must be at least 1, or null). */
  async ttl_zero_refused(ctx) {
    const s = await ctx.authed();
    const id = s.nextRequestId();
    s.send({
      type: 'cache_put',
      tenant_id: s.tenant,
      namespace: NAMESPACE,
      cache: ctx.names.next('ttl-zero'),
      key: 'k',
      value: Buffer.from('v'),
      request_id: id,
      ttl_ms: 0,
    });
    await s.expectError('cache_put with ttl_ms 0', { code: 'invalid_request', requestId: id });
    await ctx.stillServed(s);
  },

  /**
   * A put's value is required: without it, or null, it is refused naming the request; "" is an empty
   * value, kept and read back as such (not as a miss).
   */
  async put_value_required(ctx) {
    const s = await ctx.authed();
    const c = new CacheClient(s, ctx);
    const address = `"tenant_id":${JSON.stringify(s.tenant)},"namespace":"${NAMESPACE}","cache":"${c.cache}","key":"k"`;
    for (const [what, value] of [
      ['without value', ''],
      ['with value null', ',"value":null'],
    ] as const) {
      const id = s.nextRequestId();
      s.fs.sendJsonText(`{"type":"cache_put",${address}${value},"request_id":${id},"ttl_ms":null}`);
      await s.expectError(`a cache_put ${what}`, { code: 'invalid_request', requestId: id });
    }
    await c.put('k', '');
    expectThat((await c.get('k')) === '', 'a put of the empty value "" does not read back as ""');
    await ctx.stillServed(s);
  },

  /** Without request_id: put is answered by plain ok, get and delete by cache_value without request_id. */
  async without_request_id(ctx) {
    const s = await ctx.authed();
    const address = { tenant_id: s.tenant, namespace: NAMESPACE, cache: ctx.names.next('no-id'), key: 'k' };
    s.send({ type: 'cache_put', ...address, value: Buffer.from('v'), ttl_ms: null });
    const { frame, message } = await s.answer('ok answering a cache_put without request_id');
    expectThat(
      frame.flags === 0 && frame.payload.toString() === '{"type":"ok"}',
      `expected {"type":"ok"}, got ${describeFrame(frame)} (${message.type})`,
    );
    s.send({ type: 'cache_get', ...address });
    const got = await s.expect('cache_value', 'cache_value answering a cache_get without request_id');
    expectThat(got.request_id === undefined, 'cache_value names a request_id nobody sent');
    expectThat(got.value !== null && Buffer.from(got.value).toString() === 'v', 'cache_value lost the value');
    if (!servesDelete(s)) return 'CACHE_DELETE not advertised: delete not checked';
    s.send({ type: 'cache_delete', ...address });
    const deleted = await s.expect('cache_value', 'cache_value answering a cache_delete without request_id');
    expectThat(deleted.request_id === undefined, 'cache_value names a request_id nobody sent');
  },

  /** Many requests in flight on one stream: every answer names its request, in order. */
  async pipelined(ctx) {
    const s = await ctx.authed();
    const cache = ctx.names.next('pipelined');
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) {
      const id = s.nextRequestId();
      ids.push(id);
      const address = { tenant_id: s.tenant, namespace: NAMESPACE, cache, key: `k${i % 5}` };
      if (i % 2 === 0)
        s.send({ type: 'cache_put', ...address, value: Buffer.from(`v${i}`), request_id: id, ttl_ms: null });
      else s.send({ type: 'cache_get', ...address, request_id: id });
    }
    for (const id of ids) {
      const { frame, message } = await s.answer(`the answer to pipelined request ${id}`);
      const named = 'request_id' in message ? message.request_id : undefined;
      expectThat(named === id, `expected the answer to request ${id}, got ${describeFrame(frame)}`);
    }
  },

  /** Keys are any non-empty UTF-8 string, not names. */
  async keys_any_utf8(ctx) {
    const c = new CacheClient(await ctx.authed(), ctx);
    for (const key of ['bad key!', 'ünïcödé/ключ', 'line\nbreak', ' ', '.']) {
      await c.put(key, `v:${key}`);
      expectThat((await c.get(key)) === `v:${key}`, `get of key ${JSON.stringify(key)} lost its value`);
    }
  },

  /** An empty key is refused with invalid_request, naming the request; the stream serves on. */
  async empty_key_refused(ctx) {
    const s = await ctx.authed();
    const c = new CacheClient(s, ctx);
    const id = s.nextRequestId();
    s.send({
      type: 'cache_put',
      tenant_id: s.tenant,
      namespace: NAMESPACE,
      cache: c.cache,
      key: '',
      value: Buffer.from('v'),
      request_id: id,
      ttl_ms: null,
    });
    await s.expectError('cache_put with an empty key', { code: 'invalid_request', requestId: id });
    await ctx.stillServed(s);
  },

  /** Caches and namespaces are separate key spaces. */
  async caches_are_separate(ctx) {
    const s = await ctx.authed();
    const a = new CacheClient(s, ctx);
    const b = new CacheClient(s, ctx);
    await a.put('shared-key', 'in-a');
    expectThat((await b.get('shared-key')) === null, 'a key put in one cache is visible in another');
  },
});
