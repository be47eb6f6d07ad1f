import type { CheckContext } from './context.js';

/**
 * One promise of docs/protocol.md, checked against a live broker. `run` fails by throwing (a
 * CheckFailure carries the one-line reason); a string it returns is a note printed after PASS.
 */
export interface Check {
  /** area.what, e.g. `errors.bad_magic`: what --only matches. */
  readonly name: string;
  run(ctx: CheckContext): Promise<string | void>;
}

/** Builds a check list for one area, prefixing names with the area. */
export function area(name: string, checks: Record<string, Check['run']>): Check[] {
  return Object.entries(checks).map(([what, run]) => ({ name: `${name}.${what}`, run }));
}
