// The live dashboard in a real browser: a broker process under a little SDK load, /dashboard in Debian's
// headless Chromium (driven by playwright-core), its figures checked against /metrics, and the README's
// screenshot saved. Never asserts a latency: timings depend on the machine.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import parsePrometheus from 'parse-prometheus-text-format';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { connect, type FelixClient } from '../../client/index.js';
import { headlessChromium } from './headless-chromium.js';
import { spawnBroker, type BrokerProcess } from './broker-process.js';

// The README's picture is refreshed only on request (UPDATE_SCREENSHOT=1), so an ordinary test run
// leaves the tree clean; otherwise the screenshot still happens, into a temporary file.
const SCREENSHOT =
  process.env.UPDATE_SCREENSHOT === '1'
    ? fileURLToPath(new URL('../../docs/assets/dashboard.png', import.meta.url))
    : join(tmpdir(), `felix-dashboard-${process.pid}.png`);
const browser = headlessChromium();

/** What the page shows, read in one evaluation, so all of it comes from the same snapshot. */
interface Shown {
  readonly tick: number;
  readonly connections: number;
  readonly published: number;
}

async function shown(page: Page): Promise<Shown> {
  // Source text, run in the page: the tests are compiled without the DOM's types.
  const text = (await page.evaluate(`({
    tick: document.body.dataset.tick ?? '0',
    connections: document.getElementById('connections').textContent,
    published: document.getElementById('published-total').textContent,
  })`)) as Record<keyof Shown, string>;
  const number = (s: string): number => Number(s.replace(/,/g, ''));
  return {
    tick: number(text.tick),
    connections: number(text.connections),
    published: number(text.published),
  };
}

async function metrics(broker: BrokerProcess): Promise<{ connections: number; published: number }> {
  const res = await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`);
  const families = parsePrometheus(await res.text());
  const value = (name: string): number => Number(families.find((f) => f.name === name)?.metrics[0]?.value);
  return { connections: value('felix_connections'), published: value('felix_published_messages_total') };
}

/** Waits (bounded, so a broken page fails with a message) for the page to show a snapshot matching. */
async function untilShown(page: Page, what: string, predicate: (s: Shown) => boolean): Promise<Shown> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const s = await shown(page);
    if (predicate(s)) return s;
    if (Date.now() > deadline)
      throw new Error(`gave up waiting for the dashboard to show ${what}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A small, uneven load: two streams with a subscriber each and acked batches whose size swings, plus
 * cache puts and gets (some missing), so every chart has something to draw.
 */
function startLoad(client: FelixClient): { stop(): Promise<void> } {
  let stopped = false;
  const run = async (): Promise<void> => {
    for (let round = 0; !stopped; round++) {
      const size = 4 + Math.round(4 * Math.sin(round / 15));
      const batch = Array.from({ length: size }, (_, i) => `order ${round}.${i}`);
      await client.publishBatch('orders', batch);
      await client.publish('telemetry', `reading ${round} `.padEnd(1024, '.'));
      await client.cache.put('default', 'sessions', `user:${round % 50}`, `token ${round}`);
      await client.cache.get('default', 'sessions', `user:${(round * 7) % 80}`);
      await new Promise((r) => setTimeout(r, 8));
    }
  };
  // Kept, not thrown at once: the test learns of a failed publish when it stops the load.
  let failure: unknown = null;
  const running = run().catch((error: unknown) => (failure = error));
  return {
    stop: async () => {
      stopped = true;
      await running;
      if (failure !== null) throw failure;
    },
  };
}

async function openDashboard(broker: BrokerProcess): Promise<Page> {
  const page = await browser.get().newPage();
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(error.message));
  page.on('requestfailed', (request) => failures.push(`${request.url()}: ${request.failure()?.errorText}`));
  await page.goto(`http://127.0.0.1:${broker.httpPort}/dashboard`);
  await untilShown(page, 'a first snapshot', (s) => s.tick >= 1);
  expect(failures).toEqual([]);
  return page;
}

describe('the live dashboard', () => {
  it('moves with the traffic and shows what /metrics says, then saves the README screenshot', async () => {
    // Small subscriber queues and no write-ahead, so the one slow subscriber below soon shows a full queue
    // and drops.
    const broker = await spawnBroker({ FELIX_SUB_QUEUE_CAPACITY: '64', FELIX_EVENT_SEND_WINDOW: '0' });
    const address = `127.0.0.1:${broker.quicPort}`;
    const client = await connect({ broker: address, env: {}, onWarning: () => {} });
    let received = 0;
    await client.subscribe('orders', { onEvent: () => received++ });
    await client.subscribe('telemetry', { onEvent: () => received++ });
    // Never reads: its local queue fills, flow control stops the broker, whose queue then drops.
    const slow = await connect({
      broker: address,
      env: {},
      onWarning: () => {},
      eventStreamRecvWindow: 16 * 1024,
      eventConnRecvWindow: 64 * 1024,
      clientSubQueueCapacity: 1,
      clientSubQueuePolicy: 'block',
    });
    await slow.subscribe('telemetry');
    const load = startLoad(client);
    let page: Page;
    try {
      page = await openDashboard(broker);

      // The charts move: a later snapshot shows more published than an earlier one.
      const first = await untilShown(page, 'traffic', (s) => s.published > 0);
      await untilShown(page, 'more traffic in a later snapshot', (s) => s.published > first.published);
      for (const plot of ['connections', 'throughput', 'streams', 'hops', 'drops', 'cache']) {
        expect(await page.locator(`#plot-${plot} canvas`).count(), plot).toBeGreaterThan(0);
      }
      // Under load the page can only be behind /metrics: its snapshot was taken before this fetch.
      const onPage = await shown(page);
      const scraped = await metrics(broker);
      expect(onPage.published).toBeLessThanOrEqual(scraped.published);

      // A few more seconds of history, then the picture for the README.
      await untilShown(page, 'six seconds of history', (s) => s.tick >= 7);
      // The figures, the charts, the tables and the first rows of the recent publishes.
      await page.screenshot({
        path: SCREENSHOT,
        fullPage: true,
        clip: { x: 0, y: 0, width: 1400, height: 1500 },
      });
      expect(await page.locator('#recent-table tbody tr').count()).toBeGreaterThan(1);
    } finally {
      await load.stop();
    }

    // Quiet now: every counter is final, and the next snapshot (within a second) must show exactly it.
    expect(received).toBeGreaterThan(0);
    const final = await metrics(broker);
    const settled = await untilShown(
      page,
      `${final.published} published`,
      (s) => s.published === final.published,
    );
    expect(settled.connections).toBe(final.connections);
    expect((await metrics(broker)).connections).toBe(final.connections);
    await Promise.all([client.close(), slow.close()]);
    await page.close();
  });

  it('says so when timings are off, and keeps the rest live', async () => {
    const broker = await spawnBroker({ FELIX_DISABLE_TIMINGS: '1' });
    const client = await connect({ broker: `127.0.0.1:${broker.quicPort}`, env: {}, onWarning: () => {} });
    await client.publish('orders', 'one');
    const page = await openDashboard(broker);
    await untilShown(page, 'the publish', (s) => s.published === 1);
    expect(await page.locator('#timings-off').isVisible()).toBe(true);
    expect(await page.locator('#timings-off').textContent()).toBe('timings off (FELIX_DISABLE_TIMINGS=1)');
    expect(await page.locator('#plot-hops').isVisible()).toBe(false);
    expect(await page.locator('#recent-table').textContent()).toContain(
      'timings off (FELIX_DISABLE_TIMINGS=1)',
    );
    await client.close();
    await page.close();
  });
});
