/**
 * Felix's wildcard: `*` matches zero or more characters, anything else matches itself (case-sensitive; no
 * `?`, no classes, no escapes). Felix (crates/felix-authz/src/matcher.rs, `wildcard_match`) runs a
 * backtracking scan over the whole `kind:tenant/namespace/name` string on every check. Here a pattern is
 * split once into its literal pieces, so a check is a few startsWith/endsWith/indexOf calls and no
 * allocation.
 */

const STAR = '*';
const STAR_CODE = STAR.charCodeAt(0);
const SLASH_CODE = '/'.charCodeAt(0);

/** A compiled glob for one string: a segment of a resource, or (in VirtualGlob) a whole resource. */
export class SegmentGlob {
  /** 0: matches anything; 1: one literal; 2: literal pieces around stars. */
  private readonly mode: 0 | 1 | 2;
  private readonly literal: string;
  private readonly prefix: string;
  private readonly suffix: string;
  private readonly middles: readonly string[];
  /** Fewest characters a match needs: every literal piece once. */
  private readonly minLength: number;

  constructor(readonly pattern: string) {
    const pieces = pattern.split(STAR);
    this.literal = pattern;
    this.prefix = pieces[0];
    this.suffix = pieces.length > 1 ? pieces[pieces.length - 1] : '';
    this.middles = pieces.slice(1, -1).filter((piece) => piece !== '');
    this.minLength = pieces.reduce((sum, piece) => sum + piece.length, 0);
    if (pieces.length === 1) this.mode = 1;
    else this.mode = this.minLength === 0 ? 0 : 2;
  }

  matches(value: string): boolean {
    if (this.mode === 0) return true;
    if (this.mode === 1) return value === this.literal;
    if (value.length < this.minLength) return false;
    if (!value.startsWith(this.prefix) || !value.endsWith(this.suffix)) return false;
    // Leftmost placement of each middle piece leaves the most room for the rest, so it never misses a
    // match a backtracking scan would find.
    let from = this.prefix.length;
    const end = value.length - this.suffix.length;
    for (const piece of this.middles) {
      const at = value.indexOf(piece, from);
      if (at < 0 || at + piece.length > end) return false;
      from = at + piece.length;
    }
    return true;
  }
}

/** Distinct segment patterns kept for sharing; tokens repeat the same few (`*`, a tenant, a namespace). */
const SHARED_SEGMENT_GLOBS = 8_192;
const sharedSegmentGlobs = new Map<string, SegmentGlob>();

/**
 * The compiled glob for `pattern`, shared with every other permission using the same segment text: a
 * cached grant's memory is mostly its compiled permissions. Bounded: when full, the oldest half is dropped.
 */
export function segmentGlob(pattern: string): SegmentGlob {
  let glob = sharedSegmentGlobs.get(pattern);
  if (glob === undefined) {
    if (sharedSegmentGlobs.size >= SHARED_SEGMENT_GLOBS) {
      let drop = SHARED_SEGMENT_GLOBS / 2;
      for (const key of sharedSegmentGlobs.keys()) {
        if (drop-- === 0) break;
        sharedSegmentGlobs.delete(key);
      }
    }
    glob = new SegmentGlob(pattern);
    sharedSegmentGlobs.set(pattern, glob);
  }
  return glob;
}

/** The character at `index` of `prefix + tenant + "/" + namespace + "/" + name`. */
function virtualCharCode(index: number, prefix: string, tenant: string, namespace: string, name: string) {
  let i = index;
  if (i < prefix.length) return prefix.charCodeAt(i);
  i -= prefix.length;
  if (i < tenant.length) return tenant.charCodeAt(i);
  i -= tenant.length;
  if (i === 0) return SLASH_CODE;
  i -= 1;
  if (i < namespace.length) return namespace.charCodeAt(i);
  i -= namespace.length;
  if (i === 0) return SLASH_CODE;
  return name.charCodeAt(i - 1);
}

/**
 * A glob over `prefix + tenant + "/" + namespace + "/" + name` without building that string: Felix's own
 * backtracking scan, reading characters through virtualCharCode. Used only for patterns that do not split into
 * the three segments (such as `stream:t1/*` or `*`), which tokens rarely carry.
 */
export class VirtualGlob {
  private readonly codes: readonly number[];

  constructor(readonly pattern: string) {
    this.codes = Array.from({ length: pattern.length }, (_, i) => pattern.charCodeAt(i));
  }

  matches(prefix: string, tenant: string, namespace: string, name: string): boolean {
    const length = prefix.length + tenant.length + namespace.length + name.length + 2;
    const pattern = this.codes;
    let p = 0;
    let v = 0;
    let star = -1;
    let mark = 0;
    // Each step advances v, or advances p within one attempt; an attempt restarts only with mark + 1, so
    // the loop ends after at most (length + 1) × (pattern length + 1) steps.
    while (v < length) {
      if (p < pattern.length && pattern[p] === STAR_CODE) {
        star = p;
        mark = v;
        p += 1;
      } else if (p < pattern.length && pattern[p] === virtualCharCode(v, prefix, tenant, namespace, name)) {
        p += 1;
        v += 1;
      } else if (star >= 0) {
        p = star + 1;
        mark += 1;
        v = mark;
      } else {
        return false;
      }
    }
    while (p < pattern.length && pattern[p] === STAR_CODE) p += 1;
    return p === pattern.length;
  }
}
