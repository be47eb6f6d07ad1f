/**
 * Transport settings for each family of client connections. Each family has its own endpoint, so its
 * flow-control windows (FELIX_PUB_*, FELIX_EVENT_*, FELIX_CACHE_*) are real per-connection quiche settings;
 * the socket, MTU, congestion-control and idle knobs are shared.
 */
import type { TransportSettings } from '../transport/index.js';
import type { ClientConfig } from './config.js';

export type PoolFamily = 'pub' | 'event' | 'cache';

export function transportSettingsFor(config: ClientConfig, family: PoolFamily): Partial<TransportSettings> {
  const windows = {
    pub: [config.pubConnRecvWindow, config.pubStreamRecvWindow, config.pubSendWindow],
    event: [config.eventConnRecvWindow, config.eventStreamRecvWindow, config.eventSendWindow],
    cache: [config.cacheConnRecvWindow, config.cacheStreamRecvWindow, config.cacheSendWindow],
  }[family];
  return {
    connRecvWindow: windows[0],
    streamRecvWindow: windows[1],
    sendWindow: windows[2],
    maxUdpPayload: config.maxUdpPayload,
    udpSendBuffer: config.udpSendBuffer,
    udpRecvBuffer: config.udpRecvBuffer,
    congestionControl: config.cc,
    idleTimeoutMs: config.idleTimeoutMs,
    keepAliveMs: config.keepaliveMs,
  };
}
