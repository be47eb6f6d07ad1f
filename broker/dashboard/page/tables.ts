import type { DashboardSnapshot, RecentBatch } from '../snapshot-types.js';
import {
  formatBytes,
  formatClock,
  formatCount,
  formatDuration,
  formatMicros,
  formatMillis,
  formatRate,
} from './format.js';
import { bandLabels, bandOf } from './latency-bands.js';

type Cell = string | { readonly text: string; readonly className: string };

/**
 * Replaces a table's contents. Built with textContent, never innerHTML: stream names come from clients.
 */
function fillTable(
  table: HTMLTableElement,
  header: readonly string[],
  rows: readonly (readonly Cell[])[],
  empty: string,
): void {
  const head = document.createElement('thead');
  const headRow = head.insertRow();
  for (const title of header) {
    const th = document.createElement('th');
    th.textContent = title;
    headRow.append(th);
  }
  const body = document.createElement('tbody');
  for (const cells of rows) {
    const tr = body.insertRow();
    for (const cell of cells) {
      const td = tr.insertCell();
      if (typeof cell === 'string') td.textContent = cell;
      else {
        td.textContent = cell.text;
        td.className = cell.className;
      }
    }
  }
  if (rows.length === 0) {
    const td = body.insertRow().insertCell();
    td.colSpan = header.length;
    td.className = 'empty';
    td.textContent = empty;
  }
  table.replaceChildren(head, body);
}

function table(id: string): HTMLTableElement {
  const element = document.getElementById(id);
  if (!(element instanceof HTMLTableElement)) throw new Error(`dashboard page lacks table #${id}`);
  return element;
}

export function renderStreams(s: DashboardSnapshot): void {
  fillTable(
    table('streams-table'),
    ['stream', 'subscribers', 'publish/s', 'fan-out/s', 'published'],
    s.streams.map((r) => [
      r.stream,
      formatCount(r.subscribers),
      formatRate(r.published.perSecond),
      formatRate(r.fannedOut.perSecond),
      formatCount(r.published.total),
    ]),
    'no streams yet',
  );
}

export function renderSlowSubscribers(s: DashboardSnapshot): void {
  fillTable(
    table('slow-table'),
    ['stream', 'connection', 'subscription id', 'queued', 'dropped', 'policy'],
    s.slowSubscribers.map((sub) => [
      sub.stream,
      String(sub.connection),
      String(sub.id),
      `${formatCount(sub.depth)} / ${formatCount(sub.capacity)}`,
      formatCount(sub.dropped),
      sub.policy,
    ]),
    'no subscriptions',
  );
  fillTable(
    table('disconnects-table'),
    ['reason', 'subscribers disconnected'],
    Object.entries(s.disconnects).map(([reason, count]) => [reason, formatCount(count)]),
    'none so far',
  );
}

export function renderConnections(s: DashboardSnapshot): void {
  const shown = s.connectionList ?? [];
  fillTable(
    table('connections-table'),
    ['id', 'tenant', 'remote', 'age', 'subscriptions'],
    shown.map((c) => [
      String(c.id),
      c.tenant ?? '(not authenticated)',
      c.remote,
      formatDuration(c.ageMs),
      formatCount(c.subscriptions),
    ]),
    'no connections',
  );
  const note = document.getElementById('connections-shown');
  if (note !== null) {
    note.textContent =
      shown.length < s.connections ? `(oldest ${shown.length} of ${formatCount(s.connections)})` : '';
  }
}

export function renderStorage(s: DashboardSnapshot): void {
  const st = s.storage ?? null;
  fillTable(
    table('storage-table'),
    [
      'durable streams',
      'log bytes',
      'segments',
      'written/s',
      'fsyncs/s',
      'fsync mean',
      'errors',
      'found at start',
    ],
    st === null
      ? []
      : [
          [
            formatCount(st.streams),
            formatBytes(st.logBytes),
            formatCount(st.segments),
            `${formatBytes(st.bytesWritten.perSecond)}/s`,
            formatRate(st.fsyncs.perSecond),
            st.fsyncMeanMs === null ? '–' : formatMillis(st.fsyncMeanMs),
            `${formatCount(st.writeErrors)} write, ${formatCount(st.fsyncErrors)} fsync, ` +
              `${formatCount(st.corruptRecords)} corrupt, ${formatCount(st.refusing)} refusing`,
            `${formatCount(st.offsetsMissing)} offsets missing, ${formatCount(st.offsetsSkipped)} skipped, ` +
              `${formatCount(st.damagedSegments)} damaged segments, ${formatCount(st.tornTails)} torn tails`,
          ],
        ],
    'no durable storage (FELIX_DURABLE_STORAGE_DIR unset)',
  );
}

/** The hop columns: the broker's hops in its order (the snapshot's keys), then any others a sample has. */
function hopColumns(s: DashboardSnapshot): string[] {
  const hops = new Set(Object.keys(s.hops ?? {}));
  for (const batch of s.recent) for (const hop of Object.keys(batch.hops)) hops.add(hop);
  return [...hops];
}

function hopCell(us: number | undefined, bands: readonly number[]): Cell {
  if (us === undefined) return { text: '–', className: 'unmeasured' };
  return { text: formatMicros(us), className: `band-${bandOf(us, bands)}` };
}

export function renderRecent(s: DashboardSnapshot): void {
  const hops = hopColumns(s);
  const bands = s.latencyBandsUs;
  const newestFirst: RecentBatch[] = [...s.recent].reverse();
  fillTable(
    table('recent-table'),
    ['time', 'stream', 'offset', 'events', ...hops, 'measured total'],
    newestFirst.map((batch) => {
      const measured = hops.map((hop) => batch.hops[hop]).filter((us): us is number => us !== undefined);
      const total = measured.reduce((sum, us) => sum + us, 0);
      return [
        formatClock(batch.at),
        batch.stream,
        formatCount(batch.offset),
        formatCount(batch.events),
        ...hops.map((hop) => hopCell(batch.hops[hop], bands)),
        measured.length === 0 ? '–' : hopCell(total, bands),
      ];
    }),
    s.hops === null ? 'timings off (FELIX_DISABLE_TIMINGS=1)' : 'no publishes sampled yet',
  );
  const legend = document.getElementById('bands-legend')!;
  legend.replaceChildren(
    ...bandLabels(bands).map((label, band) => {
      const chip = document.createElement('span');
      chip.className = `chip band-${band}`;
      chip.textContent = label;
      return chip;
    }),
  );
}
