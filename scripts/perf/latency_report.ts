// Reading latencydemo's `--json` report (its types are latencydemo's own), which the NATS harness emits
// too, so that every step after a run reads one shape whatever system was measured. The fields the
// pipeline reads are checked, so a contract change fails here, named, rather than as NaN in a chart.
import type { CaseReport } from '../../latencydemo/case-report.js';
import type { RunReport } from '../../latencydemo/report.js';

export type LatencyCase = CaseReport;

/** latencydemo's report, or the NATS harness's, which differs in its tool name only. */
export type LatencyReport = Omit<RunReport, 'tool'> & { readonly tool: string };

export class ReportParseError extends Error {
  override readonly name = 'ReportParseError';
}

/** What the records, the CSVs, the charts and the comparison read. */
const READ_NUMBERS = [
  'payload',
  'fanout',
  'batch',
  'delivered_total',
  'expected_deliveries',
  'unaccounted',
  'throughput_msgs',
  'effective_throughput_msgs',
  'delivered_throughput_msgs',
  'delivered_mb_s',
] as const;
const READ_LATENCIES = ['p50_us', 'p99_us', 'p999_us', 'max_us', 'all_p99_us'] as const;

function checkCase(value: unknown, index: number): LatencyCase {
  const where = `cases[${index}]`;
  if (value === null || typeof value !== 'object') throw new ReportParseError(`${where} is not an object`);
  const c = value as Record<string, unknown>;
  for (const field of READ_NUMBERS) {
    if (typeof c[field] !== 'number' || !Number.isFinite(c[field])) {
      throw new ReportParseError(`${where}.${field}: expected a number, got ${JSON.stringify(c[field])}`);
    }
  }
  for (const field of READ_LATENCIES) {
    if (c[field] !== null && typeof c[field] !== 'number') {
      throw new ReportParseError(
        `${where}.${field}: expected a number or null, got ${JSON.stringify(c[field])}`,
      );
    }
  }
  if (typeof c.valid !== 'boolean') throw new ReportParseError(`${where}.valid: expected true or false`);
  if (!Array.isArray(c.warnings) || !c.warnings.every((w) => typeof w === 'string')) {
    throw new ReportParseError(`${where}.warnings: expected a list of strings`);
  }
  return c as unknown as LatencyCase;
}

export function checkLatencyReport(value: unknown): LatencyReport {
  if (value === null || typeof value !== 'object') throw new ReportParseError('the report is not an object');
  const r = value as Record<string, unknown>;
  if (r.schema !== 1)
    throw new ReportParseError(`unsupported schema ${JSON.stringify(r.schema)} (expected 1)`);
  if (typeof r.tool !== 'string') throw new ReportParseError('tool: expected a string');
  if (!Array.isArray(r.cases) || r.cases.length === 0)
    throw new ReportParseError('cases: expected a non-empty list');
  return { ...(r as unknown as LatencyReport), cases: r.cases.map(checkCase) };
}

/**
 * The report in a program's stdout: the whole of it, or else its last line that parses as JSON (a program
 * may print progress before the report).
 */
export function parseLatencyReport(stdout: string): LatencyReport {
  const trimmed = stdout.trim();
  if (trimmed === '') throw new ReportParseError('no output');
  try {
    return checkLatencyReport(JSON.parse(trimmed));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
  for (const line of trimmed.split('\n').reverse()) {
    if (!line.trimStart().startsWith('{')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    return checkLatencyReport(parsed);
  }
  throw new ReportParseError('no JSON report in the output');
}
