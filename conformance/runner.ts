import { CheckContext, Names, type KitSettings } from './context.js';
import { CheckFailure, oneLine } from './failure.js';
import type { Check } from './registry.js';

export interface CheckResult {
  readonly name: string;
  readonly passed: boolean;
  /** Why it failed (one line). */
  readonly reason?: string;
  /** What a passing check wants said (e.g. that a feature was not advertised). */
  readonly note?: string;
  readonly ms: number;
}

// Every expectation inside a check is bounded; this bounds a check as a whole, whatever it does.
const CHECK_LIMIT_MS = 120_000;
const DISPOSE_LIMIT_MS = 2_000;

/** Runs the checks one after another, each with its own connections, reporting each as it finishes. */
export async function runChecks(
  checks: readonly Check[],
  settings: KitSettings,
  onResult: (result: CheckResult) => void,
): Promise<CheckResult[]> {
  const names = new Names();
  const results: CheckResult[] = [];
  for (const check of checks) {
    const result = await runOne(check, new CheckContext(settings, names));
    results.push(result);
    onResult(result);
  }
  return results;
}

async function runOne(check: Check, ctx: CheckContext): Promise<CheckResult> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CheckFailure(`the check did not finish within ${CHECK_LIMIT_MS / 1000} s`)),
      CHECK_LIMIT_MS,
    );
  });
  let result: Omit<CheckResult, 'ms'>;
  try {
    const note = await Promise.race([check.run(ctx), limit]);
    result = { name: check.name, passed: true, ...(typeof note === 'string' ? { note } : {}) };
  } catch (err) {
    const reason =
      err instanceof CheckFailure
        ? err.message
        : `unexpected error in the kit: ${(err as Error).stack ?? String(err)}`;
    result = { name: check.name, passed: false, reason: oneLine(reason) };
  } finally {
    clearTimeout(timer);
  }
  await Promise.race([ctx.dispose(), new Promise((r) => setTimeout(r, DISPOSE_LIMIT_MS))]);
  return { ...result, ms: Date.now() - started };
}

/** The checks whose names match any of the globs (`*` any run of characters, `?` one). */
export function selectChecks(checks: readonly Check[], globs: readonly string[]): Check[] {
  if (globs.length === 0) return [...checks];
  const patterns = globs.map(globToRegExp);
  return checks.filter((c) => patterns.some((p) => p.test(c.name)));
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}
