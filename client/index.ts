/**
 * The felix-ts client SDK: publish to and subscribe to streams, and use the key-value cache, on a felix-ts
 * (or Felix) broker over QUIC.
 *
 *   const client = await connect({ broker: '127.0.0.1:5000', tenant: 't1' });
 *   await client.publish('orders', payload);
 *   const sub = await client.subscribe('orders', { start: 'earliest' });
 *   for await (const event of sub) handle(event.payload, event.offset);
 *   await client.cache.put('default', 'primary', 'key', value, { ttlMs: 60_000 });
 *   for await (const s of client.status()) console.log(s.type, s.pool, s.connection); // reconnects
 *   await client.close();
 */
export { connect, type FelixClient } from './client.js';
export type { ConnectOptions, SessionOptions, ConfigSourceOptions, TokenProvider } from './options.js';
export type { Payload, PublishOptions } from './publisher.js';
export type { Subscription, SubscribeOptions, FelixEvent, GapInfo } from './subscription.js';
export type { QueuePolicy } from './async-queue.js';
export type { StatusEvent, StatusType, ConnectionRef } from './status.js';
export type { CacheClient, CachePutOptions } from './cache-client.js';
export {
  FelixError,
  SLOW_CONSUMER,
  isFelixError,
  type BatchProgress,
  type FelixErrorCode,
} from './errors.js';
export { loadClientConfig, ConfigError, type ClientConfig, type ClientSettingOptions } from './config.js';
export type { AckMode, StartPosition, ErrorCode, RetryClass } from '../wire/index.js';
export type { ClientHop, HopSummary } from './hop-stats.js';
