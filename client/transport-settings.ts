/**
 * Transport settings for each family of client connections. Each family has its own endpoint, so its
 * flow-control windows (FELIX_PUB_*, FELIX_EVENT_*, FELIX_CACHE_*) are real per-connection quiche settings;
 * the socket, MTU, congestion-control and idle knobs are shared.
 */
import type { TransportSettings } from '../transport/index.js';
import { transportSettingsFrom } from '../config/transport-settings.js';
import type { ClientConfig } from './config.js';

export type PoolFamily = 'pub' | 'event' | 'cache';

export function transportSettingsFor(config: ClientConfig, family: PoolFamily): Partial<TransportSettings> {
  const windows = {
    pub: { conn: config.pubConnRecvWindow, stream: config.pubStreamRecvWindow, send: config.pubSendWindow },
    event: {
      conn: config.eventConnRecvWindow,
      stream: config.eventStreamRecvWindow,
      send: config.eventSendWindow,
    },
    cache: {
      conn: config.cacheConnRecvWindow,
      stream: config.cacheStreamRecvWindow,
      send: config.cacheSendWindow,
    },
  }[family];
  const settings = transportSettingsFrom(config, windows);
  // The broker opens one unidirectional stream per subscription: the event connections grant as many as
  // the transport allows, so what bounds subscriptions per connection is the broker's settings
  // (FELIX_MAX_SUBSCRIPTIONS_PER_CONN, FELIX_MAX_STREAMS_PER_CONN), not a credit of 1,024 here.
  return family === 'event' ? { ...settings, maxStreamsUni: EVENT_STREAMS_UNI } : settings;
}

/** The transport's largest unidirectional stream credit (transport/settings.ts bounds). */
const EVENT_STREAMS_UNI = 1_000_000;
