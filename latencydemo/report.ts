/**
 * The two outputs. Text: Felix's report, line for line and label for label (scripts that parse Felix's
 * output parse this one), plus lines Felix does not have (max, all subscribers, bandwidth, elapsed, the
 * delivery accounting, warnings, INVALID RUN). JSON: one object, the contract the perf pipeline reads.
 * parseTextReport turns the text back into the JSON's case objects.
 */
import type { HopTiming } from './case-report.js';
import type { CaseReport } from './case-report.js';
import { expectationNote, reportedPubWindow, type CaseConfig } from './cases.js';
import type { OpenLoopReport } from './open-loop.js';

/** The `Warmup:` line's pub window in the acked mode, which uses none (the JSON's null). */
const NO_WINDOW = 'n/a';

export const JSON_SCHEMA = 1;
/** Starts each line that says why a case is invalid (one per reason, after the case's other lines). */
const INVALID_PREFIX = 'INVALID RUN: ';

export interface RunReport {
  readonly tool: 'latencydemo';
  readonly schema: typeof JSON_SCHEMA;
  /** "spawned", or the --broker address. */
  readonly broker: string;
  readonly node: string;
  /** FELIX_* variables in effect for the demo (each spawned broker adds its case's settings). */
  readonly env: Readonly<Record<string, string>>;
  readonly cases: readonly CaseReport[];
}

export function formatJson(report: RunReport): string {
  return JSON.stringify(report);
}

export function textHeader(broker: string, all: boolean): string {
  const where = broker === 'spawned' ? 'a broker process spawned per case' : `the broker at ${broker}`;
  const lines = [
    '== felix-ts QUIC Pub/Sub Latency Demo ==',
    `Mode: QUIC broker protocol over the felix-ts transport, against ${where}.`,
  ];
  if (all) lines.push('Running --all: latency-focused, then throughput-focused, then publisher scaling.');
  return lines.join('\n') + '\n';
}

/** What is printed before a case runs. */
export function caseIntro(c: CaseConfig): string {
  return (
    [
      `Case: ${c.name}`,
      `Warmup: ${c.warmup} messages | Measure: ${c.total} messages | payload ${c.payload} bytes | ` +
        `fanout ${c.fanout} | batch ${c.batch} | binary ${c.binary} | pub conns ${c.pubConns} | ` +
        `pub streams/conn ${c.pubStreamsPerConn} | pub stream count ${c.pubStreamCount} | ` +
        `pub sharding ${c.pubSharding} | sub conns ${c.subConns} | pub window ${reportedPubWindow(c) ?? NO_WINDOW}`,
      expectationNote(c),
    ].join('\n') + '\n'
  );
}

/** Felix's format_duration: whole microseconds below 1 ms, milliseconds with three decimals above. */
export function formatMicros(us: number | null): string {
  if (us === null) return 'n/a (no received samples)';
  return us >= 1000 ? `${(us / 1000).toFixed(3)} ms` : `${us} us`;
}

/** What is printed once a case has run. */
export function caseResults(r: CaseReport): string {
  const lines = [
    `Results (publish n = ${r.publish_total}, sampled ${r.sample_total}, received ${r.received}, ` +
      `dropped ${r.dropped}) payload=${r.payload}B fanout=${r.fanout} batch=${r.batch} binary=${r.binary}:`,
    `  delivered total = ${r.delivered_total}`,
    `  p50  = ${formatMicros(r.p50_us)}`,
    `  p99  = ${formatMicros(r.p99_us)}`,
    `  p999 = ${formatMicros(r.p999_us)}`,
    `  max  = ${formatMicros(r.max_us)}`,
    `  all subscribers: p50 = ${formatMicros(r.all_p50_us)}, p99 = ${formatMicros(r.all_p99_us)}, ` +
      `p999 = ${formatMicros(r.all_p999_us)}`,
    `  throughput = ${r.throughput_msgs.toFixed(2)} msg/s`,
    `  effective throughput = ${r.effective_throughput_msgs.toFixed(2)} msg/s`,
    `  delivered throughput = ${r.delivered_throughput_msgs.toFixed(2)} msg/s`,
    `  delivered per-sub throughput = ${r.delivered_per_sub_throughput_msgs.toFixed(2)} msg/s`,
    `  delivered bandwidth = ${r.delivered_mb_s.toFixed(2)} MB/s`,
    `  elapsed = ${r.duration_s.toFixed(6)} s`,
    `  deliveries: expected ${r.expected_deliveries}, received ${r.delivered_total}, ` +
      `reported dropped ${r.reported_drops}, unaccounted ${r.unaccounted}`,
    ...(r.timings === null ? [] : [timingsLine(r.timings)]),
    ...(r.open_loop === null ? [] : [openLoopLine(r.open_loop)]),
    ...r.warnings.map((w) => `  warning: ${w}`),
  ];
  lines.push(...r.invalid_reasons.map((reason) => `${INVALID_PREFIX}${reason}`));
  return lines.join('\n') + '\n';
}

/** Felix's `timings:` line: each hop's p50/p99/p999 in microseconds and how many batches it covers. */
export function timingsLine(timings: Readonly<Record<string, HopTiming>>): string {
  const hops = Object.entries(timings).map(
    ([hop, t]) => `${hop} p50=${t.p50_us}us p99=${t.p99_us}us p999=${t.p999_us}us n=${t.count}`,
  );
  return `  timings: ${hops.join(' | ')}`;
}

/** The open loop's line: the rate asked for, the rate achieved, and how far the publisher lagged. */
export function openLoopLine(o: OpenLoopReport): string {
  return (
    `  open loop: rate ${o.rate_msgs} msg/s, achieved ${o.achieved_rate_msgs.toFixed(2)} msg/s, ` +
    `publisher lag p50 = ${formatMicros(o.publisher_lag_p50_us)}, p99 = ${formatMicros(o.publisher_lag_p99_us)}, ` +
    `max = ${formatMicros(o.publisher_lag_max_us)}`
  );
}

function parseTimings(text: string): Record<string, HopTiming> {
  const out: Record<string, HopTiming> = {};
  for (const part of text.split(' | ')) {
    const m = /^(\w+) p50=(\d+)us p99=(\d+)us p999=(\d+)us n=(\d+)$/.exec(part);
    if (m === null) throw new Error(`latencydemo report: unreadable timings part "${part}"`);
    out[m[1]!] = { p50_us: Number(m[2]), p99_us: Number(m[3]), p999_us: Number(m[4]), count: Number(m[5]) };
  }
  return out;
}

// ---- parsing the text back (for the perf pipeline) ----

const CASE_RE = /^Case: (.+)$/;
const WARMUP_RE =
  /^Warmup: (\d+) messages \| Measure: (\d+) messages \| payload (\d+) bytes \| fanout (\d+) \| batch (\d+) \| binary (true|false) \| pub conns (\d+) \| pub streams\/conn (\d+) \| pub stream count (\d+) \| pub sharding (\S+) \| sub conns (\d+) \| pub window (\d+|n\/a)$/;
const RESULTS_RE =
  /^Results \(publish n = (\d+), sampled (\d+), received (\d+), dropped (\d+)\) payload=(\d+)B fanout=(\d+) batch=(\d+) binary=(true|false):$/;
const DURATION = String.raw`(n\/a \(no received samples\)|[0-9.]+ (?:us|ms))`;
const LINE_RES = {
  delivered: /^ {2}delivered total = (\d+)$/,
  p50: new RegExp(String.raw`^  p50  = ${DURATION}$`),
  p99: new RegExp(String.raw`^  p99  = ${DURATION}$`),
  p999: new RegExp(String.raw`^  p999 = ${DURATION}$`),
  max: new RegExp(String.raw`^  max  = ${DURATION}$`),
  all: new RegExp(String.raw`^  all subscribers: p50 = ${DURATION}, p99 = ${DURATION}, p999 = ${DURATION}$`),
  throughput: /^ {2}throughput = ([0-9.]+) msg\/s$/,
  effective: /^ {2}effective throughput = ([0-9.]+) msg\/s$/,
  deliveredThroughput: /^ {2}delivered throughput = ([0-9.]+) msg\/s$/,
  perSub: /^ {2}delivered per-sub throughput = ([0-9.]+) msg\/s$/,
  bandwidth: /^ {2}delivered bandwidth = ([0-9.]+) MB\/s$/,
  elapsed: /^ {2}elapsed = ([0-9.]+) s$/,
  deliveries: /^ {2}deliveries: expected (\d+), received (\d+), reported dropped (\d+), unaccounted (-?\d+)$/,
  warning: /^ {2}warning: (.*)$/,
  timings: /^ {2}timings: (.*)$/,
  openLoop: new RegExp(
    String.raw`^  open loop: rate (\d+) msg\/s, achieved ([0-9.]+) msg\/s, publisher lag p50 = ${DURATION}, p99 = ${DURATION}, max = ${DURATION}$`,
  ),
  invalid: /^INVALID RUN: (.*)$/,
};

/** A duration as formatMicros prints it, back in whole microseconds (null for n/a). */
export function parseMicros(text: string): number | null {
  if (text.startsWith('n/a')) return null;
  const [amount, unit] = text.split(' ');
  return unit === 'ms' ? Math.round(Number(amount) * 1000) : Number(amount);
}

type Fields = Record<string, unknown>;

/** Adds what one line of a case block says to `f`; other lines are ignored. */
function parseCaseLine(line: string, f: Fields): void {
  let m: RegExpExecArray | null;
  if ((m = WARMUP_RE.exec(line))) {
    const n = m.slice(1).map(Number);
    Object.assign(f, {
      warmup: n[0],
      total: n[1],
      payload: n[2],
      fanout: n[3],
      batch: n[4],
      binary: m[6] === 'true',
      pub_conns: n[6],
      pub_streams_per_conn: n[7],
      pub_stream_count: n[8],
      pub_sharding: m[10],
      sub_conns: n[10],
      pub_window: m[12] === NO_WINDOW ? null : n[11],
    });
  } else if ((m = RESULTS_RE.exec(line))) {
    Object.assign(f, {
      publish_total: Number(m[1]),
      sample_total: Number(m[2]),
      received: Number(m[3]),
      dropped: Number(m[4]),
    });
  } else if ((m = LINE_RES.delivered.exec(line))) f.delivered_total = Number(m[1]);
  else if ((m = LINE_RES.timings.exec(line))) f.timings = parseTimings(m[1]!);
  else if ((m = LINE_RES.openLoop.exec(line))) {
    f.open_loop = {
      rate_msgs: Number(m[1]),
      achieved_rate_msgs: Number(m[2]),
      publisher_lag_p50_us: parseMicros(m[3]!),
      publisher_lag_p99_us: parseMicros(m[4]!),
      publisher_lag_max_us: parseMicros(m[5]!),
    };
  } else if ((m = LINE_RES.p50.exec(line))) f.p50_us = parseMicros(m[1]!);
  else if ((m = LINE_RES.p99.exec(line))) f.p99_us = parseMicros(m[1]!);
  else if ((m = LINE_RES.p999.exec(line))) f.p999_us = parseMicros(m[1]!);
  else if ((m = LINE_RES.max.exec(line))) f.max_us = parseMicros(m[1]!);
  else if ((m = LINE_RES.all.exec(line))) {
    Object.assign(f, {
      all_p50_us: parseMicros(m[1]!),
      all_p99_us: parseMicros(m[2]!),
      all_p999_us: parseMicros(m[3]!),
    });
  } else if ((m = LINE_RES.throughput.exec(line))) f.throughput_msgs = Number(m[1]);
  else if ((m = LINE_RES.effective.exec(line))) f.effective_throughput_msgs = Number(m[1]);
  else if ((m = LINE_RES.deliveredThroughput.exec(line))) f.delivered_throughput_msgs = Number(m[1]);
  else if ((m = LINE_RES.perSub.exec(line))) f.delivered_per_sub_throughput_msgs = Number(m[1]);
  else if ((m = LINE_RES.bandwidth.exec(line))) f.delivered_mb_s = Number(m[1]);
  else if ((m = LINE_RES.elapsed.exec(line))) f.duration_s = Number(m[1]);
  else if ((m = LINE_RES.deliveries.exec(line))) {
    Object.assign(f, {
      expected_deliveries: Number(m[1]),
      reported_drops: Number(m[3]),
      unaccounted: Number(m[4]),
    });
  } else if ((m = LINE_RES.warning.exec(line))) (f.warnings as string[]).push(m[1]!);
  else if ((m = LINE_RES.invalid.exec(line))) {
    f.valid = false;
    (f.invalid_reasons as string[]).push(m[1]!);
  }
}

// Key order of the JSON case object, so a parsed case compares equal to (and prints like) a built one.
const CASE_KEYS: readonly (keyof CaseReport)[] = [
  'name',
  'warmup',
  'total',
  'payload',
  'fanout',
  'batch',
  'binary',
  'pub_conns',
  'pub_streams_per_conn',
  'pub_sharding',
  'pub_stream_count',
  'sub_conns',
  'pub_window',
  'publish_total',
  'sample_total',
  'received',
  'dropped',
  'delivered_total',
  'expected_deliveries',
  'reported_drops',
  'unaccounted',
  'valid',
  'invalid_reasons',
  'p50_us',
  'p99_us',
  'p999_us',
  'max_us',
  'all_p50_us',
  'all_p99_us',
  'all_p999_us',
  'throughput_msgs',
  'effective_throughput_msgs',
  'delivered_throughput_msgs',
  'delivered_per_sub_throughput_msgs',
  'delivered_mb_s',
  'duration_s',
  'warnings',
  'timings',
  'open_loop',
];

function toCaseReport(f: Fields): CaseReport {
  const missing = CASE_KEYS.filter((key) => !(key in f));
  if (missing.length > 0) {
    throw new Error(`latencydemo report: case ${String(f.name)} lacks ${missing.join(', ')}`);
  }
  const out: Fields = {};
  for (const key of CASE_KEYS) out[key] = f[key];
  return out as unknown as CaseReport;
}

/**
 * The cases of a text report (as printed by this program), in the JSON contract's shape. Latencies come
 * back in whole microseconds and rates with two decimals, exactly as --json prints them. Lines that belong
 * to no case (header, progress) are ignored; a case missing a line throws.
 */
export function parseTextReport(text: string): CaseReport[] {
  const cases: CaseReport[] = [];
  let current: Fields | null = null;
  for (const line of text.split('\n')) {
    const start = CASE_RE.exec(line);
    if (start) {
      if (current !== null) cases.push(toCaseReport(current));
      current = {
        name: start[1],
        warnings: [],
        valid: true,
        invalid_reasons: [],
        timings: null,
        open_loop: null,
      };
    } else if (current !== null) {
      parseCaseLine(line, current);
    }
  }
  if (current !== null) cases.push(toCaseReport(current));
  return cases;
}
