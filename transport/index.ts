export { Endpoint, INTERNAL_ERROR_CODE } from './endpoint.js';
export { CID_LEN } from './connection-ids.js';
export { WRITE_DEADLINE_CODE, WRITE_DEADLINE_REASON } from './write-deadline.js';
export type { AdmissionLimits, AdmissionRefusal } from './admission.js';
export type {
  ListenOptions,
  ClientEndpointOptions,
  EndpointCloseOptions,
  EndpointOptions,
} from './endpoint.js';
export { Connection } from './connection.js';
export type { ConnectionStats } from './connection.js';
export { Stream } from './stream.js';
export {
  TransportError,
  TransportSettingsError,
  ConnectionClosedError,
  ConnectTimeoutError,
  AlpnRefusedError,
  NO_APPLICATION_PROTOCOL,
  STATELESS_RESET_REASON,
  TlsPolicyError,
  type CloseInfo,
} from './errors.js';
export { DROP_REASONS, type DatagramStats, type DropReason } from './datagram-stats.js';
export type { SegmentedSendStats } from './udp-gso.js';
export type { BatchReceiveStats } from './udp-mmsg.js';
export { CONNECTION_REFUSED } from './initial-protection.js';
export { RETRY_MODES, type RetryMode, type RetryOptions } from './address-validation.js';
export {
  DEFAULT_TRANSPORT_SETTINGS,
  TRANSPORT_RANGES,
  CONGESTION_CONTROLS,
  ALPN,
  resolveAlpn,
  resolveTransportSettings,
  type TransportSettings,
  type CongestionControl,
} from './settings.js';
export {
  generateSelfSignedCertificate,
  certificateFingerprint,
  interfaceAddresses,
  readPemFile,
  isLoopbackHost,
  resolveClientTlsPolicy,
  type ServerTls,
  type ClientTlsOptions,
  type ClientTlsPolicy,
  type GeneratedCertificate,
} from './tls.js';
