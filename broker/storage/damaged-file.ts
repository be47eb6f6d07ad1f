/**
 * A file of a durable stream that cannot be used as it is (metadata that does not parse, a segment that is
 * a directory, a file that cannot be read): which file, and what is wrong with it, for the operator's log
 * line and for the stream's refusal — never a bare stack trace naming neither.
 */
export class DamagedFileError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
    /** The errno code when a system call failed (ENOTDIR, EACCES…), as callers classify I/O errors by it. */
    readonly code?: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** Errors that say a file is of the wrong kind, in the operator's words. */
const NOT_WHAT_WAS_EXPECTED: Readonly<Record<string, string>> = {
  EISDIR: 'a directory where a file was expected',
  ENOTDIR: 'a file where a directory was expected',
  EEXIST: 'exists and is not a directory',
};

/** The file and the problem behind `err`, thrown while opening the files under `dir`. */
export function damagedFile(err: unknown, dir: string): { path: string; problem: string } {
  if (err instanceof DamagedFileError) return { path: err.path, problem: err.problem };
  const e = err as NodeJS.ErrnoException;
  // Node's fs errors carry the path and the call that failed; the problem is said without the host's path.
  if (e.code !== undefined) {
    const what = NOT_WHAT_WAS_EXPECTED[e.code] ?? `${e.syscall ?? 'access'} failed`;
    return { path: e.path ?? dir, problem: `${what} (${e.code})` };
  }
  return { path: dir, problem: String(e.message ?? err).split('\n')[0]! };
}
