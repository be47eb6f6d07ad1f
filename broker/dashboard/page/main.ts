// The dashboard page: listens to /dashboard/events and redraws figures, charts and tables with each
// snapshot (one a second). Everything it runs is bundled by scripts/build-dashboard.mjs; nothing loads
// from elsewhere.
import type { DashboardSnapshot } from '../snapshot-types.js';
import { DashboardCharts } from './charts.js';
import { formatBytes, formatClock, formatCount, formatPercent, formatRate } from './format.js';
import { renderRecent, renderSlowSubscribers, renderStreams } from './tables.js';

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
}

function start(): void {
  const charts = new DashboardCharts();
  window.addEventListener('resize', () => charts.fit());
  const events = new EventSource('/dashboard/events');
  events.onopen = () => setStatus('live', 'live');
  events.onmessage = (message: MessageEvent<string>) => {
    const snapshot = JSON.parse(message.data) as DashboardSnapshot;
    renderFigures(snapshot);
    charts.update(snapshot);
    renderStreams(snapshot);
    renderSlowSubscribers(snapshot);
    renderRecent(snapshot);
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
