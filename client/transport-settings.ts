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
  return transportSettingsFrom(config, windows);
}
