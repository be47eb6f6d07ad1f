const MAX_SUGGESTIONS = 4;

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 0; i < a.length; i++) {
    const current = [i + 1];
    for (let j = 0; j < b.length; j++) {
      const substitution = previous[j] + (a[i] === b[j] ? 0 : 1);
      current.push(Math.min(substitution, previous[j + 1] + 1, current[j] + 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** Whether every word of `needle` appears in `haystack`, in order. */
function isWordSubsequence(needle: readonly string[], haystack: readonly string[]): boolean {
  let position = 0;
  return needle.every((word) => {
    while (position < haystack.length && haystack[position] !== word) position++;
    return position++ < haystack.length;
  });
}

/**
 * Known names worth suggesting for a name nobody reads, best first; empty when nothing is close, since
 * pointing at an unrelated setting is worse than saying nothing.
 *
 * As in Felix's env registry, a missing or extra word (`metrics_bind` for `broker_metrics_bind`,
 * `fanout_batch_size` for `fanout_batch`) is the stronger signal and is checked first; only then a
 * misspelling, by edit distance within a third of the name's length.
 */
export function suggestNames(name: string, known: Iterable<string>): string[] {
  const candidates = [...known];
  const words = name.toLowerCase().split('_');
  const byWords = candidates.filter((candidate) => {
    const candidateWords = candidate.toLowerCase().split('_');
    return isWordSubsequence(words, candidateWords) || isWordSubsequence(candidateWords, words);
  });
  if (byWords.length > 0) return byWords.slice(0, MAX_SUGGESTIONS);

  const budget = Math.max(1, Math.floor(name.length / 3));
  return candidates
    .map((candidate) => ({ candidate, distance: editDistance(name.toLowerCase(), candidate.toLowerCase()) }))
    .filter(({ distance }) => distance <= budget)
    .sort((x, y) => x.distance - y.distance)
    .slice(0, 1)
    .map(({ candidate }) => candidate);
}

/** " Did you mean X?" / " Did you mean one of X, Y?" / "" */
export function didYouMean(suggestions: readonly string[]): string {
  if (suggestions.length === 0) return '';
  if (suggestions.length === 1) return ` Did you mean ${suggestions[0]}?`;
  return ` Did you mean one of ${suggestions.join(', ')}?`;
}
