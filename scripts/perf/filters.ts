// Matrix filters: `key=value[|value…][,key=value…]`. Within one filter every key must match (AND);
// several filters select what any of them selects (OR), so one run can take two shapes at once, e.g.
// `batch=1,binary=false` (acked latency) and `batch=64,binary=true` (sustained throughput).

export const FILTER_KEYS = ['profile', 'fanout', 'batch', 'payload', 'binary', 'preset', 'trial'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

/** The values of one matrix cell that filters look at, already as the strings filters compare. */
export type FilterSubject = Readonly<Record<FilterKey, string>>;

export type Filter = ReadonlyMap<FilterKey, ReadonlySet<string>>;

export class FilterSyntaxError extends Error {
  override readonly name = 'FilterSyntaxError';
}

function isFilterKey(key: string): key is FilterKey {
  return (FILTER_KEYS as readonly string[]).includes(key);
}

export function parseFilter(expression: string): Filter {
  const filter = new Map<FilterKey, Set<string>>();
  for (const part of expression.split(',')) {
    const term = part.trim();
    if (term === '') continue;
    const eq = term.indexOf('=');
    if (eq <= 0) throw new FilterSyntaxError(`filter "${expression}": "${term}" is not key=value`);
    const key = term.slice(0, eq).trim();
    const alias = key === 'payload_bytes' ? 'payload' : key;
    if (!isFilterKey(alias)) {
      throw new FilterSyntaxError(
        `filter "${expression}": unknown key ${key} (known: ${FILTER_KEYS.join(', ')})`,
      );
    }
    const values = term
      .slice(eq + 1)
      .split('|')
      .map((v) => v.trim().toLowerCase())
      .filter((v) => v !== '');
    if (values.length === 0) throw new FilterSyntaxError(`filter "${expression}": ${key} has no value`);
    filter.set(alias, new Set(values));
  }
  return filter;
}

export function matchesFilter(filter: Filter, subject: FilterSubject): boolean {
  for (const [key, allowed] of filter) if (!allowed.has(subject[key].toLowerCase())) return false;
  return true;
}

/** No filters select everything; otherwise a subject must match at least one. */
export function matchesAnyFilter(filters: readonly Filter[], subject: FilterSubject): boolean {
  return filters.length === 0 || filters.some((f) => matchesFilter(f, subject));
}
