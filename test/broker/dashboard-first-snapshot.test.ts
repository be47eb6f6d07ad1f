// The dashboard page carries a first snapshot (issue 16, scope 9): GET /dashboard embeds the broker's
// state as JSON the page renders at once, safely (names come from clients), without taking anything from
// the event stream's next interval.
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerStats } from '../../broker/core/stats.js';
import { FIRST_SNAPSHOT_MARKER } from '../../broker/dashboard/assets.js';
import { Dashboard } from '../../broker/dashboard/dashboard.js';
import type { DashboardSources, StreamSource } from '../../broker/dashboard/snapshot-builder.js';
import type { DashboardSnapshot } from '../../broker/dashboard/snapshot-types.js';
import { createHttpServer } from '../../broker/http.js';

const servers: Server[] = [];
const dashboards: Dashboard[] = [];
afterEach(async () => {
  for (const d of dashboards.splice(0)) d.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const HOSTILE = 'x</script><script>alert(1)</script>';

function sources(): DashboardSources & { stats: BrokerStats } {
  const stats = new BrokerStats();
  stats.publishedMessages = 12;
  stats.publishedBytes = 3_000;
  stats.publishErrors = 2;
  stats.protocolErrors = 1;
  const stream: StreamSource = {
    tenant: 't1',
    namespace: 'default',
    name: HOSTILE,
    subscribers: [],
    publishedEvents: 12,
    fannedOutEvents: 0,
  };
  return {
    stats,
    streams: () => [stream],
    subscriptions: () => [],
    connections: () => 1,
    cache: { size: 1, bytes: 100, hits: 3, misses: 1, evictions: 0, puts: 4, deletes: 0 },
    timings: null,
    latencyBandsUs: [250, 1000, 5000],
    identity: () => ({
      version: '9.9.9',
      startedAt: Date.now() - 65_000,
      quicBind: '127.0.0.1:5000',
      httpBind: '127.0.0.1:8080',
      profile: 'balanced',
      auth: 'protected',
      pid: 4242,
    }),
    connectionDetails: () => [
      { id: 7, remote: '127.0.0.1:40000', tenant: 't1', openedAt: Date.now() - 5_000, subscriptions: 2 },
    ],
    storage: {
      totals: () => ({ bytes: 4096, segments: 2, streams: 1, refusing: 0 }),
      stats: {
        bytesWritten: 4096,
        fsyncs: 3,
        fsyncSeconds: 0.003,
        writeErrors: 0,
        fsyncErrors: 0,
        corruptRecords: 0,
        damagedSegments: 0,
        tornTails: 0,
        offsetsMissing: 0,
        offsetsSkipped: 0,
      },
    },
  };
}

async function serve(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'felix-dashboard-assets-'));
  writeFileSync(
    join(dir, 'index.html'),
    `<!doctype html><title>d</title><body>${FIRST_SNAPSHOT_MARKER}</body>`,
  );
  const dashboard = new Dashboard(sources(), { assetsDir: dir, feed: { maxClients: 4, intervalMs: 50 } });
  dashboards.push(dashboard);
  const server = createHttpServer({ registry: new Registry(), ready: () => true, dashboard });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function embedded(html: string): DashboardSnapshot {
  const match = /<script type="application\/json" id="first-snapshot">(.*?)<\/script>/s.exec(html);
  if (match === null) throw new Error(`no first snapshot in ${html.slice(0, 200)}`);
  return JSON.parse(match[1]!) as DashboardSnapshot;
}

describe('the first snapshot in the page', () => {
  it('embeds identity, process, connections, rates, rejects, errors and storage', async () => {
    const port = await serve();
    const res = await fetch(`http://127.0.0.1:${port}/dashboard`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).not.toContain(FIRST_SNAPSHOT_MARKER);
    const s = embedded(html);
    expect(s.broker).toMatchObject({ version: '9.9.9', quicBind: '127.0.0.1:5000', profile: 'balanced' });
    // Started 65 s before (by Date.now() here; the snapshot's clock may differ by a millisecond).
    expect(s.uptimeMs).toBeGreaterThanOrEqual(64_000);
    expect(s.process.rssBytes).toBeGreaterThan(0);
    expect(s.connections).toBe(1);
    expect(s.connectionList).toEqual([
      expect.objectContaining({ id: 7, tenant: 't1', remote: '127.0.0.1:40000', subscriptions: 2 }),
    ]);
    // Opened 5 s before (Date.now() here, the snapshot's own clock there: they may differ by a millisecond).
    expect(s.connectionList[0]!.ageMs).toBeGreaterThanOrEqual(4_000);
    expect(s.published.total).toBe(12);
    expect(s.publishedBytes.total).toBe(3_000);
    expect(s.publishRejects.total).toBe(2);
    expect(s.protocolErrors.total).toBe(1);
    expect(s.cacheRequests.gets.total).toBe(4);
    expect(s.cacheRequests.puts.total).toBe(4);
    expect(s.storage).toMatchObject({ logBytes: 4096, segments: 2, streams: 1 });
    // A preview takes no tick: the event stream's first snapshot is still number 1.
    expect(s.tick).toBe(0);
  });

  it('keeps a client-chosen name from ending the script element', async () => {
    const port = await serve();
    const html = await (await fetch(`http://127.0.0.1:${port}/dashboard`)).text();
    expect(html).not.toContain('<script>alert(1)');
    expect(embedded(html).streams[0]!.stream).toBe(`t1/default/${HOSTILE}`);
  });
});
