// The dashboard page: listens to /dashboard/events and redraws figures, charts and tables with each
// snapshot (one a second). Everything it runs is bundled by scripts/build-dashboard.mjs; nothing loads
// from elsewhere.
import type { DashboardSnapshot } from '../snapshot-types.js';
import { DashboardCharts } from './charts.js';
import {
  formatBytes,
  formatClock,
  formatCount,
  formatDuration,
  formatMillis,
  formatPercent,
  formatRate,
} from './format.js';
import {
  renderConnections,
  renderRecent,
  renderSlowSubscribers,
  renderStorage,
  renderStreams,
} from './tables.js';

function setText(id: string, text: string): void {
  const element = document.getElementById(id);
  if (element !== null) element.textContent = text;
}

function setStatus(text: string, state: 'live' | 'waiting' | 'down'): void {
  const status = document.getElementById('status')!;
  status.textContent = text;
  status.dataset.state = state;
}

function renderFigures(s: DashboardSnapshot): void {
  setText('connections', formatCount(s.connections));
  setText('subscriptions', formatCount(s.subscriptions));
  setText('published-total', formatCount(s.published.total));
  setText('published-rate', `${formatRate(s.published.perSecond)}/s`);
  setText('delivered-total', formatCount(s.delivered.total));
  setText('delivered-rate', `${formatRate(s.delivered.perSecond)}/s`);
  setText('stream-count', formatCount(s.streamCount));
  setText('cache-entries', formatCount(s.cache.entries));
  setText('cache-bytes', formatBytes(s.cache.bytes));
  setText('cache-hit-ratio', formatPercent(s.cache.hitRatio));
  setText('cache-evictions', `${formatCount(s.cache.evictions.total)} evicted`);
  setText('tick', formatCount(s.tick));
  setText('updated', `updated ${formatClock(s.at)}`);
  const requests = s.cacheRequests;
  setText(
    'cache-requests-rate',
    formatRate(requests.gets.perSecond + requests.puts.perSecond + requests.deletes.perSecond),
  );
  setText(
    'cache-requests-split',
    `get ${formatRate(requests.gets.perSecond)} · put ${formatRate(requests.puts.perSecond)} · ` +
      `del ${formatRate(requests.deletes.perSecond)}`,
  );
  setText('published-bytes-rate', `${formatBytes(s.publishedBytes.perSecond)}/s`);
  setText('published-bytes-total', `${formatBytes(s.publishedBytes.total)} in all`);
  setText('delivered-bytes-rate', `${formatBytes(s.deliveredBytes.perSecond)}/s`);
  setText('delivered-bytes-total', `${formatBytes(s.deliveredBytes.total)} in all`);
  setText('publish-rejects', formatCount(s.publishRejects.total));
  setText('publish-rejects-rate', `${formatRate(s.publishRejects.perSecond)}/s`);
  setText('protocol-errors', formatCount(s.protocolErrors.total));
  setText('protocol-errors-rate', `${formatRate(s.protocolErrors.perSecond)}/s`);
  setText('process-rss', formatBytes(s.process.rssBytes));
  setText('process-heap', `heap ${formatBytes(s.process.heapUsedBytes)}`);
  setText('process-cpu', s.process.cpuPercent === null ? '–' : `${formatRate(s.process.cpuPercent)} %`);
  const lag = s.process.eventLoopLagMs;
  setText('process-loop-lag', lag === null ? '–' : formatMillis(lag.p99));
  setText('process-loop-lag-max', lag === null ? '' : `max ${formatMillis(lag.max)}`);
}

function renderIdentity(s: DashboardSnapshot): void {
  const b = s.broker;
  if (b === null) return;
  setText('broker-version', b.version);
  setText('broker-uptime', s.uptimeMs === null ? '–' : formatDuration(s.uptimeMs));
  setText('broker-quic', b.quicBind);
  setText('broker-http', b.httpBind);
  setText('broker-profile', b.profile ?? '–');
  setText('broker-auth', b.auth);
  setText('broker-pid', String(b.pid));
}

/** Everything but the charts, which plot only whole one-second intervals. */
function render(s: DashboardSnapshot): void {
  renderIdentity(s);
  renderFigures(s);
  renderStreams(s);
  renderConnections(s);
  renderStorage(s);
  renderSlowSubscribers(s);
  renderRecent(s);
}

/** The snapshot the page was served with (see broker/dashboard/assets.ts), so it never starts empty. */
function firstSnapshot(): DashboardSnapshot | null {
  const element = document.getElementById('first-snapshot');
  if (element === null || element.textContent === null) return null;
  try {
    return JSON.parse(element.textContent) as DashboardSnapshot;
  } catch {
    return null;
  }
}

function start(): void {
  const charts = new DashboardCharts();
  window.addEventListener('resize', () => charts.fit());
  const first = firstSnapshot();
  if (first !== null) {
    render(first);
    // For anyone scripting the page (the end-to-end test): the embedded snapshot is on screen.
    document.body.dataset.firstRender = 'done';
  }
  const events = new EventSource('/dashboard/events');
  events.onopen = () => setStatus('live', 'live');
  events.onmessage = (message: MessageEvent<string>) => {
    const snapshot = JSON.parse(message.data) as DashboardSnapshot;
    charts.update(snapshot);
    render(snapshot);
    // For anyone scripting the page (the end-to-end test): which snapshot is on screen.
    document.body.dataset.tick = String(snapshot.tick);
  };
  events.onerror = () => {
    // EventSource retries by itself after a dropped stream; a refusal (503: too many dashboards) is final.
    if (events.readyState === EventSource.CLOSED) setStatus('disconnected: reload to retry', 'down');
    else setStatus('reconnecting…', 'waiting');
  };
}

start();
