// A broker run from source (no `npm run build` of the dashboard) still starts, but its operator must not
// find out only from a 503 in a browser: the start-up log says the page is not built and how to build it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLoggedBroker, type LoggedBroker } from '../support/logged-broker.js';

const startWith = (dashboardAssetsDir: string): Promise<LoggedBroker> =>
  startLoggedBroker({}, { dashboardAssetsDir });

const NOT_BUILT = /dashboard is not built \(run npm run build\)/;

describe('a broker whose dashboard is not built', () => {
  it('warns at start-up, and /dashboard answers 503 saying how to build it', async () => {
    const { node, logs } = await startWith(join(tmpdir(), `felix-no-such-assets-${process.pid}`));
    const warning = logs.find((l) => NOT_BUILT.test(String(l.msg)));
    expect(warning?.level).toBe(40); // pino's warn
    const res = await fetch(`http://127.0.0.1:${node.httpAddress.port}/dashboard`);
    expect(res.status).toBe(503);
    expect(await res.text()).toMatch(/npm run build/);
  });

  it('says nothing of it when the page is built', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'felix-dashboard-built-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>dashboard</title>');
    const { node, logs } = await startWith(dir);
    expect(logs.some((l) => String(l.msg) === 'felix-ts broker listening')).toBe(true);
    expect(logs.some((l) => NOT_BUILT.test(String(l.msg)))).toBe(false);
    expect((await fetch(`http://127.0.0.1:${node.httpAddress.port}/dashboard`)).status).toBe(200);
  });
});
