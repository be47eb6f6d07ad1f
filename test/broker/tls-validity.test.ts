// A served certificate outside its validity is usable (loopback clients without a CA still connect), so it
// does not stop start-up, but clients that verify the broker will refuse it: the broker says so when it
// starts (BrokerNode.start logs certificateValidityProblem's answer as a warning).
import { generate } from 'selfsigned';
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certificateValidityProblem } from '../../broker/tls-files.js';
import { scratchDir } from '../cli/run-cli.js';
import { spawnBroker } from '../e2e/broker-process.js';

const DAY_MS = 86_400_000;

async function pair(from: number, to: number): Promise<{ cert: string; key: string }> {
  const made = await generate([{ name: 'commonName', value: 'validity test' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(from),
    notAfterDate: new Date(to),
  });
  return { cert: made.cert, key: made.private };
}

async function certificate(from: number, to: number): Promise<string> {
  return (await pair(from, to)).cert;
}

describe('the served certificate’s validity', () => {
  it('names an expired certificate and one not valid yet, and nothing for a current one', async () => {
    const now = Date.now();
    expect(certificateValidityProblem(await certificate(now - 10 * DAY_MS, now - DAY_MS), now)).toMatch(
      /^it expired on /,
    );
    expect(certificateValidityProblem(await certificate(now + DAY_MS, now + 10 * DAY_MS), now)).toMatch(
      /^it is not valid before /,
    );
    expect(certificateValidityProblem(await certificate(now - DAY_MS, now + DAY_MS), now)).toBeNull();
  });

  it('starts with an expired certificate, and says clients that verify it will refuse it', async () => {
    const now = Date.now();
    const { cert, key } = await pair(now - 10 * DAY_MS, now - DAY_MS);
    const dir = scratchDir();
    writeFileSync(join(dir, 'cert.pem'), cert);
    writeFileSync(join(dir, 'key.pem'), key);
    const broker = await spawnBroker({
      FELIX_TLS_CERT: join(dir, 'cert.pem'),
      FELIX_TLS_KEY: join(dir, 'key.pem'),
    });
    const warning = broker.logs.find((l) => String(l.msg).startsWith('FELIX_TLS_CERT: it expired on'));
    expect(warning?.msg).toMatch(/clients that verify the broker \(FELIX_TLS_CA\) will refuse it/);
  });
});
