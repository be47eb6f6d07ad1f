// The dashboard's first render in a real browser (issue 16, scope 9; storage from issue 13): with the
// event stream blocked, the page still shows the broker's identity, process health, connections, rates,
// rejects, protocol errors and storage from the snapshot it was served with; then the live stream takes
// over. Debian's headless Chromium, as test/e2e/dashboard.test.ts. Asserts no timing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { packageVersion } from '../../cli/version.js';
import { connect } from '../../client/index.js';
import { connectRaw, RawStream } from '../broker/raw-client.js';
import { headlessChromium } from './headless-chromium.js';
import { spawnBroker } from './broker-process.js';

const browser = headlessChromium();

async function text(page: Page, id: string): Promise<string> {
  return (await page.locator(`#${id}`).textContent()) ?? '';
}

describe('the dashboard’s first render', () => {
  it('shows the broker from the page itself, before any event-stream snapshot, then goes live', async () => {
    const storage = mkdtempSync(join(tmpdir(), 'felix-dashboard-storage-'));
    const broker = await spawnBroker({
      FELIX_DURABLE_STORAGE_DIR: storage,
      FELIX_DURABLE_DEFAULT: '1',
      FELIX_DURABLE_FSYNC: 'on_commit',
    });
    const client = await connect({ broker: `127.0.0.1:${broker.quicPort}`, env: {}, onWarning: () => {} });
    const raw = await RawStream.open(await connectRaw({ quicAddress: { port: broker.quicPort } }));
    try {
      for (let i = 0; i < 20; i++) await client.publish('orders', `order ${i}`);
      await client.cache.put('default', 'sessions', 'user:1', 'token');
      await client.cache.get('default', 'sessions', 'user:1');
      await client.cache.get('default', 'sessions', 'missing');
      // One publish reject (a bad name) and one protocol error (an unknown type).
      await expect(client.publish('bad name!', 'x')).rejects.toMatchObject({ brokerCode: 'invalid_request' });
      const json = Buffer.from('{"type":"frobnicate"}');
      const header = Buffer.alloc(12);
      header.writeUInt32BE(0x464c5831, 0); // FLX1, version 1, flags 0, then the length
      header.writeUInt16BE(1, 4);
      header.writeUInt32BE(json.length, 8);
      raw.write(Buffer.concat([header, json]));
      expect(await raw.next()).toMatchObject({ type: 'error', code: 'invalid_request' });

      const page = await browser.get().newPage();
      // No event stream at all: whatever the page shows comes with the page.
      await page.route('**/dashboard/events', (route) => route.abort());
      await page.goto(`http://127.0.0.1:${broker.httpPort}/dashboard`);
      await page.waitForFunction('document.body.dataset.firstRender === "done"', undefined, {
        timeout: 15_000,
      });
      // No snapshot came from the event stream (the page marks each one it renders).
      expect(await page.evaluate('document.body.dataset.tick ?? "none"')).toBe('none');

      expect(await text(page, 'broker-version')).toBe(packageVersion());
      expect(await text(page, 'broker-quic')).toBe(`127.0.0.1:${broker.quicPort}`);
      expect(await text(page, 'broker-http')).toBe(`127.0.0.1:${broker.httpPort}`);
      expect(await text(page, 'broker-profile')).toBe('balanced');
      expect(await text(page, 'broker-auth')).toBe('protected');
      expect(await text(page, 'broker-uptime')).toMatch(/^\d+ (s|min \d+ s)$/);
      expect(await text(page, 'process-rss')).toMatch(/^[\d.]+ (MiB|GiB)$/);
      expect(Number((await text(page, 'connections')).replace(/,/g, ''))).toBeGreaterThanOrEqual(2);
      const connections = await page.locator('#connections-table tbody').textContent();
      expect(connections).toContain('t1');
      expect(connections).toContain('127.0.0.1:');
      expect(await text(page, 'published-total')).toBe('20');
      expect(await text(page, 'published-bytes-total')).toMatch(/^\d+ B in all$/);
      expect(await text(page, 'publish-rejects')).toBe('1');
      expect(await text(page, 'protocol-errors')).toBe('1');
      expect(await text(page, 'cache-requests-split')).toMatch(/^get [\d.]+ · put [\d.]+ · del [\d.]+$/);
      const storageRow = await page.locator('#storage-table tbody').textContent();
      // One durable stream (orders) with a segment and its bytes on disk.
      expect(storageRow).toMatch(/^1[\d.]+ (B|KiB)1/);
      expect(storageRow).toContain('0 write, 0 fsync, 0 corrupt');

      // Let the event stream through: the live snapshots take over, with CPU and event-loop lag.
      await page.unroute('**/dashboard/events');
      await page.reload();
      await page.waitForFunction('Number(document.body.dataset.tick ?? 0) >= 2', undefined, {
        timeout: 15_000,
      });
      expect(await text(page, 'process-cpu')).toMatch(/^[\d.,]+ %$/);
      expect(await text(page, 'process-loop-lag')).toMatch(/^[\d.,]+ ms$/);
      await page.close();
    } finally {
      await client.close();
      broker.child.kill('SIGTERM');
      await broker.exited;
      rmSync(storage, { recursive: true, force: true });
    }
  });
});
