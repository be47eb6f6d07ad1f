export { Endpoint, CID_LEN } from './endpoint.js';
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
  TlsPolicyError,
  type CloseInfo,
} from './errors.js';
export {
  DEFAULT_TRANSPORT_SETTINGS,
  TRANSPORT_RANGES,
  CONGESTION_CONTROLS,
  ALPN,
  resolveTransportSettings,
  type TransportSettings,
  type CongestionControl,
} from './settings.js';
export {
  generateSelfSignedCertificate,
  certificateFingerprint,
  readPemFile,
  isLoopbackHost,
  resolveClientTlsPolicy,
  type ServerTls,
  type ClientTlsOptions,
  type ClientTlsPolicy,
  type GeneratedCertificate,
} from './tls.js';
