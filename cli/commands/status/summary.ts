/**
 * `felix-ts status`'s screen: what two scrapes of a broker's /metrics, `seconds` apart, say about it now
 * (gauges from the second) and over the sample (rates from the difference of counters).
 */
import { total, type Scrape } from './prometheus-text.js';

export interface StatusSample {
  readonly source: string;
  readonly before: Scrape;
  readonly after: Scrape;
  readonly seconds: number;
}

const LABEL_WIDTH = 15;

export function renderStatus(sample: StatusSample): string {
  const { before, after, seconds } = sample;
  const now = (name: string): number => total(after, name) ?? 0;
  const rate = (name: string): number => Math.max(0, (now(name) - (total(before, name) ?? 0)) / seconds);
  const has = (name: string): boolean => after.has(name);

  const lines = [`felix-ts broker at ${sample.source}, rates over ${seconds.toFixed(1)} s`];
  const row = (label: string, text: string): void => {
    lines.push(`${label.padEnd(LABEL_WIDTH)}${text}`);
  };

  const startTime = total(after, 'felix_process_start_time_seconds');
  const health: string[] = [];
  if (startTime !== undefined) health.push(`up ${formatDuration(Date.now() / 1000 - startTime)}`);
  if (has('felix_process_resident_memory_bytes')) {
    health.push(`rss ${formatBytes(now('felix_process_resident_memory_bytes'))}`);
  }
  if (has('felix_process_cpu_seconds_total')) {
    health.push(`cpu ${(rate('felix_process_cpu_seconds_total') * 100).toFixed(0)}%`);
  }
  if (has('felix_nodejs_eventloop_lag_p99_seconds')) {
    health.push(`event-loop lag p99 ${(now('felix_nodejs_eventloop_lag_p99_seconds') * 1000).toFixed(1)} ms`);
  }
  if (now('felix_draining') > 0) health.push('DRAINING');
  if (health.length > 0) row('process', health.join(', '));

  row(
    'connections',
    `${count(now('felix_connections'))} open (${count(now('felix_connections_opened_total'))} opened, ` +
      `${count(now('felix_connections_closed_total'))} closed, ` +
      `${count(now('felix_connections_refused_total'))} refused)`,
  );
  row(
    'subscriptions',
    `${count(now('felix_subscriptions'))} active, queued events ${count(now('felix_subscriber_queue_depth_events'))} ` +
      `(deepest ${count(now('felix_subscriber_queue_depth_max_events'))})`,
  );
  row(
    'publish',
    `${perSecond(rate('felix_published_messages_total'), 'msg')}, ${bytesPerSecond(rate('felix_published_bytes_total'))}` +
      ` (${count(now('felix_published_messages_total'))} messages in all)`,
  );
  row(
    'deliver',
    `${perSecond(rate('felix_delivered_events_total'), 'events')}, ${bytesPerSecond(rate('felix_delivered_bytes_total'))}` +
      ` (${count(now('felix_delivered_events_total'))} events in all)`,
  );
  row(
    'drops',
    `subscriber queues ${perSecond(rate('felix_subscriber_dropped_events_total'), 'events')} ` +
      `(${count(now('felix_subscriber_dropped_events_total'))} in all), ` +
      `slow subscribers disconnected ${count(now('felix_subscriber_disconnects_total'))}, ` +
      `datagrams ${count(now('felix_dropped_datagrams_total'))}`,
  );
  row(
    'refusals',
    `publish rejects ${count(now('felix_publish_rejected_budget_total'))}, publish errors ` +
      `${count(now('felix_publish_errors_total'))}, auth failures ${count(now('felix_auth_failures_total'))}, ` +
      `protocol errors ${count(now('felix_protocol_errors_total'))}`,
  );

  const hits = now('felix_cache_hits_total');
  const misses = now('felix_cache_misses_total');
  const ratio = hits + misses === 0 ? 'no gets yet' : `${((100 * hits) / (hits + misses)).toFixed(1)}%`;
  row(
    'cache',
    `hit ratio ${ratio} (${count(hits)} hits, ${count(misses)} misses), ` +
      `gets ${perSecond(rate('felix_cache_hits_total') + rate('felix_cache_misses_total'), '')}, ` +
      `puts ${perSecond(rate('felix_cache_puts_total'), '')}, ` +
      `${count(now('felix_cache_entries'))} entries, ${formatBytes(now('felix_cache_bytes'))}`,
  );
  if (has('felix_storage_streams')) {
    row(
      'storage',
      `${count(now('felix_storage_streams'))} durable streams, ${formatBytes(now('felix_storage_log_bytes'))} on disk, ` +
        `writes ${bytesPerSecond(rate('felix_storage_bytes_written_total'))}, ` +
        `errors ${count(now('felix_storage_write_errors_total') + now('felix_storage_fsync_errors_total'))}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function perSecond(value: number, unit: string): string {
  const digits = value >= 100 || value === 0 ? 0 : 1;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits })}${unit === '' ? '' : ` ${unit}`}/s`;
}

function bytesPerSecond(value: number): string {
  return `${formatBytes(value)}/s`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3_600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3_600)}h${Math.floor((s % 3_600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3_600)}h`;
}
