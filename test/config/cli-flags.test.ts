import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addBrokerFlags, loadBrokerConfigFromFlags } from '../../broker/config.js';
import { flagNameOf } from '../../config/cli-flags.js';
import { configErrorOf } from './helpers.js';

function parseFlags(...argv: string[]): Record<string, unknown> {
  const program = addBrokerFlags(new Command('felix-broker').exitOverride());
  program.parse(argv, { from: 'user' });
  return program.opts();
}

describe('broker command-line flags', () => {
  it('derive from the property names', () => {
    expect(flagNameOf('quicBind')).toBe('--quic-bind');
    expect(flagNameOf('eventBatchMaxDelayUs')).toBe('--event-batch-max-delay-us');
  });

  it('are the top layer, above the environment and the profile', () => {
    const flags = parseFlags(
      '--quic-bind',
      '127.0.0.1:0',
      '--profile',
      'high-memory',
      '--disable-timings',
      '0',
    );
    const loaded = loadBrokerConfigFromFlags(flags, { FELIX_QUIC_BIND: '0.0.0.0:6000' });
    expect(loaded.config.quicBind).toEqual({ host: '127.0.0.1', port: 0 });
    expect(loaded.profile).toBe('high-memory');
    expect(loaded.config.disableTimings).toBe(false);
    expect(loaded.provenance.disableTimings).toEqual({
      source: 'override',
      detail: 'flag --disable-timings',
    });
    expect(loaded.config.brokerSendWindow).toBe(512 * 1024 * 1024);
  });

  it('read the file named by --config', () => {
    const flags = parseFlags('--config', '/nonexistent/broker.yml');
    expect(configErrorOf(() => loadBrokerConfigFromFlags(flags, {})).message).toContain(
      '(from flag --config)',
    );
  });

  it('are named in error messages', () => {
    const flags = parseFlags('--sub-queue-policy', 'drop');
    expect(configErrorOf(() => loadBrokerConfigFromFlags(flags, {})).message).toBe(
      'Invalid FELIX_SUB_QUEUE_POLICY (flag --sub-queue-policy): got "drop"; allowed: one of block, drop_new, drop_old.',
    );
  });

  it('leave unset settings to the lower layers', () => {
    const loaded = loadBrokerConfigFromFlags(parseFlags(), { FELIX_FANOUT_BATCH: '8' });
    expect(loaded.config.fanoutBatch).toBe(8);
  });
});
