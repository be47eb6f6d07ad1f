// The dashboard's HTTP side on a real HTTP server: the page and bundles with their content types and
// caching, 404s, the event stream, its client bound and its clean-up.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { get, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Dashboard } from '../../broker/dashboard/dashboard.js';
import type { DashboardSources } from '../../broker/dashboard/snapshot-builder.js';
import type { DashboardSnapshot } from '../../broker/dashboard/snapshot-types.js';
import { createHttpServer } from '../../broker/http.js';
import { BrokerStats } from '../../broker/core/stats.js';

function sources(): DashboardSources & { stats: BrokerStats } {
  return {
    stats: new BrokerStats(),
    streams: () => [],
    subscriptions: () => [],
    connections: () => 2,
    cache: { size: 0, bytes: 0, hits: 0, misses: 0, evictions: 0 },
    timings: null,
    latencyBandsUs: [250, 1000, 5000],
  };
}

function builtAssets(): string {
  const dir = mkdtempSync(join(tmpdir(), 'felix-dashboard-assets-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>dashboard</title>');
  writeFileSync(join(dir, 'dashboard-ABC123.js'), 'console.log(1)');
  writeFileSync(join(dir, 'style-DEF456.css'), 'body{}');
  writeFileSync(join(dir, 'dashboard-ABC123.js.map'), '{}');
  writeFileSync(join(dir, 'notes.unknown'), 'not an asset type');
  return dir;
}

const servers: Server[] = [];
const dashboards: Dashboard[] = [];
afterEach(async () => {
  for (const d of dashboards.splice(0)) d.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(
  options: { assetsDir?: string; maxClients?: number; intervalMs?: number } = {},
): Promise<{ port: number; dashboard: Dashboard; stats: BrokerStats }> {
  const src = sources();
  const dashboard = new Dashboard(src, {
    assetsDir: options.assetsDir ?? builtAssets(),
    feed: { maxClients: options.maxClients ?? 16, intervalMs: options.intervalMs ?? 20 },
  });
  dashboards.push(dashboard);
  const server = createHttpServer({ registry: new Registry(), ready: () => true, dashboard });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, dashboard, stats: src.stats };
}

async function fetchFrom(port: number, path: string, method = 'GET') {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Opens the event stream; resolves with the response once its headers arrived. */
function openEvents(port: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) =>
    get(`http://127.0.0.1:${port}/dashboard/events`, resolve).on('error', reject),
  );
}

/** Reads snapshots off an open event stream until `count` arrived. */
function snapshots(res: IncomingMessage, count: number): Promise<DashboardSnapshot[]> {
  return new Promise((resolve) => {
    const got: DashboardSnapshot[] = [];
    let pending = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      pending += chunk;
      let end;
      while ((end = pending.indexOf('\n\n')) >= 0) {
        const message = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const data = message.split('\n').find((line) => line.startsWith('data: '));
        if (data !== undefined) got.push(JSON.parse(data.slice('data: '.length)) as DashboardSnapshot);
        if (got.length === count) resolve(got);
      }
    });
  });
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('/dashboard', () => {
  it('serves the page as HTML that is revalidated on every load', async () => {
    const { port } = await serve();
    for (const path of ['/dashboard', '/dashboard/']) {
      const page = await fetchFrom(port, path);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('cache-control')).toBe('no-cache');
      expect(page.text).toContain('<title>dashboard</title>');
    }
  });

  it('serves the hashed bundles with their content types, cached for good', async () => {
    const { port } = await serve();
    const cases = [
      ['dashboard-ABC123.js', 'text/javascript; charset=utf-8'],
      ['style-DEF456.css', 'text/css; charset=utf-8'],
      ['dashboard-ABC123.js.map', 'application/json; charset=utf-8'],
    ];
    for (const [name, type] of cases) {
      const asset = await fetchFrom(port, `/dashboard/assets/${name}`);
      expect(asset.status, name).toBe(200);
      expect(asset.headers.get('content-type')).toBe(type);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
    }
    const head = await fetchFrom(port, '/dashboard/assets/dashboard-ABC123.js', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
  });

  it.each([
    '/dashboard/assets/missing.js',
    '/dashboard/assets/notes.unknown',
    '/dashboard/assets/index.html',
    '/dashboard/assets/',
    '/dashboard/assets/%2e%2e%2fhttp.js',
    '/dashboard/other',
    '/dashboardx',
  ])('answers 404 for %s', async (path) => {
    const { port } = await serve();
    expect((await fetchFrom(port, path)).status).toBe(404);
  });

  it('answers 503 saying how to build it when the page was not built', async () => {
    const { port } = await serve({ assetsDir: join(tmpdir(), 'felix-no-such-dashboard-dir') });
    const page = await fetchFrom(port, '/dashboard');
    expect(page.status).toBe(503);
    expect(page.text).toContain('npm run build');
  });

  it('leaves /metrics, /live and /ready as they were', async () => {
    const { port } = await serve();
    expect((await fetchFrom(port, '/live')).text).toBe('live\n');
    expect((await fetchFrom(port, '/ready')).status).toBe(200);
    expect((await fetchFrom(port, '/metrics')).status).toBe(200);
    expect((await fetchFrom(port, '/dashboard', 'POST')).status).toBe(405);
  });
});

describe('/dashboard/events', () => {
  it('streams a JSON snapshot per tick as text/event-stream', async () => {
    const { port, stats } = await serve();
    stats.publishedMessages = 42;
    const res = await openEvents(port);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache, no-transform');
    const [first, second] = await snapshots(res, 2);
    expect(first!.tick).toBe(1);
    expect(second!.tick).toBe(2);
    expect(first!.connections).toBe(2);
    expect(first!.published.total).toBe(42);
    expect(first!.hops).toBeNull();
    res.destroy();
  });

  it('ticks only while a dashboard is connected, and forgets a dashboard that went away', async () => {
    const { port, dashboard } = await serve();
    expect(dashboard.feed.running).toBe(false);
    const a = await openEvents(port);
    const b = await openEvents(port);
    await snapshots(a, 1);
    expect(dashboard.feed.clientCount).toBe(2);
    expect(dashboard.feed.running).toBe(true);
    a.destroy();
    await until(() => dashboard.feed.clientCount === 1, 'the first dashboard to be forgotten');
    expect(dashboard.feed.running).toBe(true);
    b.destroy();
    await until(() => dashboard.feed.clientCount === 0, 'the second dashboard to be forgotten');
    expect(dashboard.feed.running).toBe(false);
  });

  it('refuses one dashboard more than the bound with 503, and has room again once one leaves', async () => {
    const { port, dashboard } = await serve({ maxClients: 2 });
    const open = [await openEvents(port), await openEvents(port)];
    const refused = await openEvents(port);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('10');
    refused.resume();
    open[0]!.destroy();
    await until(() => dashboard.feed.clientCount === 1, 'a free slot');
    const again = await openEvents(port);
    expect(again.statusCode).toBe(200);
    again.destroy();
    open[1]!.destroy();
  });

  it('sends a newly connected dashboard the latest snapshot at once, not a second later', async () => {
    // Only the feed's ticker is faked: the sockets stay real.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const { port } = await serve({ intervalMs: 1000 });
      const first = await openEvents(port);
      const firstSnapshot = snapshots(first, 1);
      vi.advanceTimersByTime(1000);
      expect((await firstSnapshot)[0]!.tick).toBe(1);
      const second = await openEvents(port);
      expect((await snapshots(second, 1))[0]!.tick).toBe(1);
      first.destroy();
      second.destroy();
    } finally {
      vi.useRealTimers();
    }
  });

  it('answers HEAD without holding the connection', async () => {
    const { port, dashboard } = await serve();
    const res = await new Promise<IncomingMessage>((resolve) =>
      request(`http://127.0.0.1:${port}/dashboard/events`, { method: 'HEAD' }, resolve).end(),
    );
    expect(res.statusCode).toBe(200);
    expect(dashboard.feed.clientCount).toBe(0);
  });

  it('ends every event stream on close (broker shutdown)', async () => {
    const { port, dashboard } = await serve();
    const res = await openEvents(port);
    const ended = new Promise((r) => res.on('end', r));
    res.resume();
    dashboard.close();
    await ended;
    expect(dashboard.feed.clientCount).toBe(0);
    expect(dashboard.feed.running).toBe(false);
  });
});
