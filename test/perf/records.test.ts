import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLatencyReport, ReportParseError } from '../../scripts/perf/latency_report.js';
import {
  appendRecord,
  attemptFailure,
  latestSession,
  parseRecords,
  readRecords,
} from '../../scripts/perf/run_records.js';
import { fixtureCase, fixtureText, record, tempDir } from './helpers.js';

describe('the latencydemo report', () => {
  it('reads the hand-written fixtures of the --json contract', () => {
    const report = parseLatencyReport(fixtureText('latencydemo_f10_b64_p4096.json'));
    expect(report.tool).toBe('latencydemo');
    expect(report.env.FELIX_PROFILE).toBe('high-memory');
    expect(report.cases[0]).toMatchObject({ fanout: 10, batch: 64, binary: true, delivered_mb_s: 372.7 });
  });

  it('finds the report after progress lines', () => {
    expect(parseLatencyReport(fixtureText('latencydemo_with_progress.txt')).cases[0]!.p50_us).toBe(182.5);
  });

  it('names the field that breaks the contract', () => {
    const report = JSON.parse(fixtureText('latencydemo_f1_b1_p256.json'));
    report.cases[0].delivered_mb_s = 'fast';
    expect(() => parseLatencyReport(JSON.stringify(report))).toThrow(
      new ReportParseError('cases[0].delivered_mb_s: expected a number, got "fast"'),
    );
    expect(() => parseLatencyReport('')).toThrow('no output');
    expect(() => parseLatencyReport('panic: broker did not start\n')).toThrow('no JSON report');
  });
});

describe('run records (data/raw/*.jsonl)', () => {
  it('round-trip through the writer and the reader unchanged', () => {
    const path = join(tempDir(), 'nested', 'runs.jsonl');
    const written = [record(), record({ trial: 2, metrics: fixtureCase('latencydemo_f10_b64_p4096.json') })];
    for (const r of written) appendRecord(path, r);
    expect(readRecords(path)).toEqual({ records: written, malformed: [] });
    expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(3);
  });

  it('skip a truncated last line (an interrupted runner) and say which', () => {
    const path = join(tempDir(), 'runs.jsonl');
    appendRecord(path, record());
    appendFileSync(path, JSON.stringify(record()).slice(0, 50));
    const { records, malformed } = readRecords(path);
    expect(records).toHaveLength(1);
    expect(malformed).toEqual([{ line: 2, reason: expect.stringContaining('JSON') }]);
  });

  it('read as nothing when the file does not exist yet', () => {
    expect(readRecords(join(tempDir(), 'absent.jsonl'))).toEqual({ records: [], malformed: [] });
  });

  it('say why an attempt does not count', () => {
    expect(attemptFailure(record())).toBeNull();
    expect(attemptFailure(record({ exit_code: 1, metrics: null, parse_error: 'no output' }))).toBe(
      'exit code 1',
    );
    expect(attemptFailure(record({ metrics: null, parse_error: 'no output' }))).toBe(
      'unreadable output: no output',
    );
    expect(
      attemptFailure(record({ timed_out: true, duration_s: 600, exit_code: null, signal: 'SIGTERM' })),
    ).toBe('killed after 600 s');
    const invalid = fixtureCase('latencydemo_invalid.json');
    expect(attemptFailure(record({ exit_code: 1, metrics: invalid }))).toBe(
      'invalid run: 10 deliveries unaccounted for',
    );
  });

  it('know the latest session: the one written to last, so a resumed session counts', () => {
    const { records } = parseRecords(
      [
        record({ session_id: 'old', timestamp: '2025-01-01T00:00:00Z' }),
        record({ session_id: 'new', timestamp: '2025-01-02T00:00:00Z' }),
        record({ session_id: 'old', timestamp: '2025-01-03T00:00:00Z' }),
      ]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    expect(latestSession(records)).toBe('old');
    expect(latestSession(records.slice(0, 2))).toBe('new');
    expect(latestSession([])).toBeUndefined();
  });
});
