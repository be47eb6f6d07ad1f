// The text and JSON reports: what they print, and that both read back into the same case objects.
import { describe, expect, it } from 'vitest';
import { buildCaseReport, type CaseMeasurement, type CaseReport } from '../../latencydemo/case-report.js';
import { planCases, type CaseConfig } from '../../latencydemo/cases.js';
import { parseCommandLine } from '../../latencydemo/cli.js';
import {
  caseIntro,
  caseResults,
  formatJson,
  formatMicros,
  parseMicros,
  parseTextReport,
  textHeader,
  type RunReport,
} from '../../latencydemo/report.js';

const request = parseCommandLine(['--payload', '4096', '--fanout', '10', '--batch', '64'], {
  pubConns: 4,
  pubStreamsPerConn: 2,
  pubSharding: 'hash_stream',
  subConns: 1,
  largestMessageBytes: 16_776_192,
});
const config: CaseConfig = planCases(request)[0]!;

const measured: CaseMeasurement = {
  sampleTotal: 10000,
  primaryReceived: 9990,
  deliveredTotal: 99_950,
  reportedDrops: 40,
  primary: { p50Ns: 812_345, p99Ns: 3_456_789, p999Ns: 5_000_999, maxNs: 7_123_456 },
  all: { p50Ns: 901_000, p99Ns: 999_999, p999Ns: 12_345_678, maxNs: 20_000_000 },
  elapsedMs: 1234.5678,
  warnings: ['batched run smaller than the send window: example', 'subscriber 0.3 on latency ended: evicted'],
};

function text(reports: CaseReport[], configs: CaseConfig[]): string {
  return (
    textHeader('spawned', false) + reports.map((r, i) => caseIntro(configs[i]!) + caseResults(r)).join('')
  );
}

describe('latencydemo text report', () => {
  it('prints per-hop timings on one line and reads them back', () => {
    const timings = {
      publish_to_broker: { count: 10, p50_us: 40, p99_us: 90, p999_us: 120 },
      end_to_end: { count: 10, p50_us: 150, p99_us: 400, p999_us: 800 },
    };
    const report = buildCaseReport(config, { ...measured, timings });
    const out = caseResults(report);
    expect(out).toContain(
      '\n  timings: publish_to_broker p50=40us p99=90us p999=120us n=10 | end_to_end p50=150us p99=400us p999=800us n=10\n',
    );
    expect(parseTextReport(text([report], [config]))[0]!.timings).toEqual(timings);
  });

  it("prints Felix's lines and labels", () => {
    const report = buildCaseReport(config, measured);
    const out = caseIntro(config) + caseResults(report);
    expect(out).toContain(
      'Warmup: 1000 messages | Measure: 10000 messages | payload 4096 bytes | fanout 10 | batch 64 | binary false',
    );
    expect(out).toContain('Expectation: throughput-focused run; higher p999 is normal due to queueing.');
    expect(out).toContain(
      'Results (publish n = 10000, sampled 10000, received 9990, dropped 10) payload=4096B fanout=10 batch=64 binary=false:',
    );
    expect(out).toContain('\n  delivered total = 99950\n');
    expect(out).toContain('\n  p50  = 812 us\n');
    expect(out).toContain('\n  p99  = 3.456 ms\n');
    expect(out).toContain('\n  throughput = 8100.00 msg/s\n');
    expect(out).toContain('\n  delivered per-sub throughput = 8095.95 msg/s\n');
    expect(out).toContain(
      'INVALID RUN: 10 of 100000 expected deliveries unaccounted (received 99950, reported dropped 40)',
    );
  });

  it("is parsed by the regular expressions of Felix's run_latency_matrix.py", () => {
    const out = caseResults(buildCaseReport(config, measured));
    const results =
      /Results \(publish n = (\d+), sampled (\d+), received (\d+), dropped (\d+)\) payload=(\d+)B fanout=(\d+) batch=(\d+) binary=(true|false):/;
    expect(results.exec(out)?.slice(1)).toEqual([
      '10000',
      '10000',
      '9990',
      '10',
      '4096',
      '10',
      '64',
      'false',
    ]);
    const line = (pattern: RegExp) => pattern.exec(out)?.[1];
    expect(line(/^\s*delivered total = (\d+)$/m)).toBe('99950');
    expect(line(/^\s*p50\s*=\s*([0-9.]+\s*(?:us|ms))$/m)).toBe('812 us');
    expect(line(/^\s*p999\s*=\s*([0-9.]+\s*(?:us|ms))$/m)).toBe('5.000 ms');
    expect(line(/^\s*effective throughput\s*=\s*([0-9.]+) msg\/s$/m)).toBe('8091.90');
    expect(line(/^\s*delivered per-sub throughput\s*=\s*([0-9.]+) msg\/s$/m)).toBe('8095.95');
  });

  it('formats durations as Felix does and reads them back', () => {
    expect(formatMicros(999)).toBe('999 us');
    expect(formatMicros(1000)).toBe('1.000 ms');
    expect(formatMicros(123_456)).toBe('123.456 ms');
    expect(formatMicros(null)).toBe('n/a (no received samples)');
    for (const us of [0, 7, 999, 1000, 1001, 123_456, 98_765_432])
      expect(parseMicros(formatMicros(us))).toBe(us);
    expect(parseMicros(formatMicros(null))).toBeNull();
  });

  it('reads back into exactly the cases --json prints', () => {
    const second: CaseConfig = { ...config, batch: 1, binary: true, name: 'latency/f1-b1-p0-binary' };
    const empty: CaseMeasurement = {
      ...measured,
      primaryReceived: 0,
      deliveredTotal: 0,
      reportedDrops: 0,
      primary: null,
      all: null,
      warnings: [],
    };
    const reports = [buildCaseReport(config, measured), buildCaseReport(second, empty)];
    const parsed = parseTextReport(text(reports, [config, second]));
    expect(parsed).toEqual(reports);
    expect(JSON.stringify(parsed)).toBe(JSON.stringify(reports));
  });

  it('refuses a case block with a line missing', () => {
    const report = buildCaseReport(config, measured);
    const broken = text([report], [config]).replace(/^ {2}elapsed = .*\n/m, '');
    expect(() => parseTextReport(broken)).toThrow(/lacks duration_s/);
  });
});

describe('latencydemo JSON report', () => {
  it('is one object with the contract fields, numbers as numbers', () => {
    const report: RunReport = {
      tool: 'latencydemo',
      schema: 1,
      broker: 'spawned',
      node: process.version,
      env: { FELIX_EVENT_CONN_POOL: '2' },
      cases: [buildCaseReport(config, measured)],
    };
    const json = formatJson(report);
    expect(json).not.toContain('\n');
    const back = JSON.parse(json) as RunReport;
    expect(back).toEqual(report);
    const c = back.cases[0]!;
    expect(Object.keys(c)).toEqual(
      expect.arrayContaining(['p50_us', 'all_p999_us', 'delivered_mb_s', 'timings']),
    );
    expect(c).toMatchObject({
      valid: false,
      unaccounted: 10,
      expected_deliveries: 100_000,
      dropped: 10,
      p50_us: 812,
      max_us: 7123,
      all_p50_us: 901,
      duration_s: 1.234568,
      delivered_mb_s: 332.91,
      timings: null,
    });
  });
});
