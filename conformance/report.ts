import type { CheckResult } from './runner.js';

/** Writes results as they come and the summary at the end, as text or as JSON lines. */
export interface Reporter {
  result(r: CheckResult): void;
  summary(results: readonly CheckResult[]): void;
}

export function textReporter(write: (line: string) => void): Reporter {
  return {
    result(r) {
      if (r.passed) write(r.note === undefined ? `PASS ${r.name}` : `PASS ${r.name} (${r.note})`);
      else write(`FAIL ${r.name}: ${r.reason}`);
    },
    summary(results) {
      const passed = results.filter((r) => r.passed).length;
      write(`${passed} passed, ${results.length - passed} failed`);
    },
  };
}

export function jsonReporter(write: (line: string) => void): Reporter {
  return {
    result(r) {
      write(
        JSON.stringify({
          check: r.name,
          result: r.passed ? 'PASS' : 'FAIL',
          ...(r.reason !== undefined ? { reason: r.reason } : {}),
          ...(r.note !== undefined ? { note: r.note } : {}),
          ms: r.ms,
        }),
      );
    },
    summary(results) {
      const passed = results.filter((r) => r.passed).length;
      write(JSON.stringify({ passed, failed: results.length - passed }));
    },
  };
}
