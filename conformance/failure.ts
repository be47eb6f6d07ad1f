/**
 * How a check says it failed: a CheckFailure carries the one-line reason the report prints. Anything
 * else a check throws is reported too, as an unexpected error, so a kit bug reads differently from a
 * broker that broke a promise.
 */
export class CheckFailure extends Error {
  override readonly name = 'CheckFailure';
}

/** Fails the check with `reason` unless `condition` holds. */
export function expectThat(condition: boolean, reason: string): asserts condition {
  if (!condition) throw new CheckFailure(reason);
}

/** Runs `step`, prefixing any failure's reason with `where` so the report says which step broke. */
export async function during<T>(where: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof CheckFailure) throw new CheckFailure(`${where}: ${err.message}`);
    throw err;
  }
}

/** One line of text, however the reason was built. */
export function oneLine(text: string, limit = 400): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > limit ? `${flat.slice(0, limit - 1)}…` : flat;
}
