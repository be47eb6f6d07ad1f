import type { TransportSettings } from '../transport/index.js';

/** The transport knobs both sides read under the same FELIX_* names. */
export interface SharedTransportConfig {
  readonly maxUdpPayload: number;
  readonly loopbackUdpPayload: number;
  readonly udpSendBuffer: number;
  readonly udpRecvBuffer: number;
  readonly cc: TransportSettings['congestionControl'];
  readonly udpGso: TransportSettings['udpGso'];
  readonly udpRecvmmsg: TransportSettings['udpRecvmmsg'];
  readonly idleTimeoutMs: number;
  readonly keepaliveMs: number;
}

/** A family's flow-control windows (FELIX_BROKER_*, FELIX_PUB_*, FELIX_EVENT_*, FELIX_CACHE_*). */
export interface WindowConfig {
  readonly conn: number;
  readonly stream: number;
  readonly send: number;
}

/** The one mapping from loaded settings to the transport's, for the broker and every client pool. */
export function transportSettingsFrom(
  config: SharedTransportConfig,
  windows: WindowConfig,
): Partial<TransportSettings> {
  return {
    connRecvWindow: windows.conn,
    streamRecvWindow: windows.stream,
    sendWindow: windows.send,
    maxUdpPayload: config.maxUdpPayload,
    loopbackUdpPayload: config.loopbackUdpPayload,
    udpSendBuffer: config.udpSendBuffer,
    udpRecvBuffer: config.udpRecvBuffer,
    congestionControl: config.cc,
    udpGso: config.udpGso,
    udpRecvmmsg: config.udpRecvmmsg,
    idleTimeoutMs: config.idleTimeoutMs,
    keepAliveMs: config.keepaliveMs,
  };
}
