/**
 * What the client settings in effect (FELIX_* environment, FELIX_CLIENT_CONFIG, FELIX_PROFILE) say about the
 * demo: defaults for the publish and subscribe flags, and the send window the batched-run warning uses.
 */
import { loadClientConfig, type ClientConfig } from '../client/index.js';
import { FRAME_ENVELOPE_RESERVE_BYTES } from '../client/config.js';
import type { Environment } from './broker-env.js';
import type { SettingDefaults } from './cli.js';

export interface DemoSettings {
  readonly defaults: SettingDefaults;
  /** FELIX_EVENT_SEND_WINDOW (read by broker and client alike). */
  readonly sendWindowBytes: number;
  /** Unknown FELIX_* variables, as the loader reports them. */
  readonly warnings: readonly string[];
}

export function loadDemoSettings(env: Environment): DemoSettings {
  const loaded = loadClientConfig({ env });
  const config: ClientConfig = loaded.config;
  return {
    defaults: {
      pubConns: config.pubConnPool,
      pubStreamsPerConn: config.pubStreamsPerConn,
      pubSharding: config.pubSharding,
      // Felix's demo uses one subscriber connection unless FELIX_SUB_CONNS says otherwise; the SDK's own
      // default (8 event connections) only spreads a handful of subscriptions over more handshakes here.
      subConns: loaded.provenance.eventConnPool.source === 'default' ? 1 : config.eventConnPool,
      // The largest message (README): the frame limit less what an event's envelope may take.
      largestMessageBytes: config.maxFrameBytes - FRAME_ENVELOPE_RESERVE_BYTES,
    },
    sendWindowBytes: config.eventSendWindow,
    warnings: loaded.warnings,
  };
}
