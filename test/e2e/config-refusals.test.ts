// What the broker process says when its settings stop it (docs/configuration.md, "Value formats" and
// "Rules between settings"): exit status 2 and the reason on stderr.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBrokerExpectingFailure } from './broker-process.js';

function yamlFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'felix-refusals-')), 'broker.yml');
  writeFileSync(path, text);
  return path;
}

describe('the broker refuses to start', () => {
  it('on a YAML integer in exponent or hex notation, as the environment refuses it', async () => {
    const inYaml = await runBrokerExpectingFailure({
      FELIX_BROKER_CONFIG: yamlFile('sub_queue_capacity: 1e3\n'),
    });
    expect(inYaml.code).toBe(2);
    expect(inYaml.stderr).toMatch(
      /Invalid FELIX_SUB_QUEUE_CAPACITY \(YAML key sub_queue_capacity in .* line 1\): got "1e3"/,
    );
    const inEnv = await runBrokerExpectingFailure({ FELIX_SUB_QUEUE_CAPACITY: '1e3' });
    expect(inEnv.code).toBe(2);
    expect(inEnv.stderr).toContain('got "1e3"');
    // The tenants block's numbers too.
    const retention = await runBrokerExpectingFailure({
      FELIX_DURABLE_STORAGE_DIR: mkdtempSync(join(tmpdir(), 'felix-refusals-data-')),
      FELIX_BROKER_CONFIG: yamlFile(
        'tenants:\n  t1:\n    namespaces:\n      ns:\n        streams:\n' +
          '          - { name: s, durable: true, retention_bytes: 0x100000 }\n',
      ),
    });
    expect(retention.code).toBe(2);
    expect(retention.stderr).toContain('retention_bytes must be');
    expect(retention.stderr).toContain('got "0x100000"');
  });

  it('on settings that break several rules, naming every broken rule on a line of its own', async () => {
    const { code, stderr } = await runBrokerExpectingFailure({ FELIX_MAX_FRAME_BYTES: '128MiB' });
    expect(code).toBe(2);
    const broken = stderr.split('\n').filter((line) => line.includes('Inconsistent settings: '));
    expect(broken).toHaveLength(2);
    // Each line says whose it is, as a single refusal's does.
    for (const line of broken) expect(line.startsWith('felix-broker: Inconsistent settings: ')).toBe(true);
    expect(broken[0]).toContain('FELIX_MAX_FRAME_BYTES must not exceed FELIX_CONN_PARTIAL_FRAME_BYTES');
    expect(broken[1]).toContain(
      'FELIX_MAX_FRAME_BYTES must not exceed FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES',
    );
    expect(broken[1]).toContain('FELIX_MAX_FRAME_BYTES=128 MiB (environment)');
  });
});
