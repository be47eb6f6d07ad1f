import { unwatchFile, watchFile, type Stats } from 'node:fs';

/**
 * Calls `onChange` when the file at `path` is written, replaced, removed or created again. Stat polling
 * (fs.watchFile) rather than fs.watch: an editor saving by writing a new file and renaming it over the old
 * one, or Kubernetes swapping a ConfigMap's symlink, leaves fs.watch watching an inode nobody uses any more,
 * while a stat of the path sees the new file. One stat per interval is all it costs. The timer does not keep
 * the process alive.
 */
export function watchFileChanges(path: string, intervalMs: number, onChange: () => void): () => void {
  const listener = (current: Stats, previous: Stats): void => {
    if (
      current.mtimeMs !== previous.mtimeMs ||
      current.ctimeMs !== previous.ctimeMs ||
      current.ino !== previous.ino ||
      current.size !== previous.size
    ) {
      onChange();
    }
  };
  watchFile(path, { interval: intervalMs, persistent: false }, listener);
  return () => unwatchFile(path, listener);
}
