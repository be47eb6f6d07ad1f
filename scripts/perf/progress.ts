// A progress bar with the time left, for runs that take minutes to hours. On stderr, so stdout stays
// the report; without a terminal (CI, a log file) it prints a progress line every 15 s instead.
import cliProgress from 'cli-progress';

export interface RunProgress {
  /** Shows which run is under way. */
  starting(label: string): void;
  /** One run done, whatever its outcome. */
  advance(): void;
  /** A line above the bar (failures, notes). */
  log(line: string): void;
  stop(): void;
}

export function startProgress(total: number, unit: string): RunProgress {
  const bars = new cliProgress.MultiBar(
    {
      format: `{bar} {value}/{total} ${unit} | elapsed {duration_formatted} | left ~{eta_formatted} | {label}`,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 15_000,
      etaBuffer: 20,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = bars.create(total, 0, { label: '' });
  return {
    starting: (label) => bar.update({ label }),
    advance: () => bar.increment(),
    log: (line) => bars.log(line.endsWith('\n') ? line : `${line}\n`),
    stop: () => bars.stop(),
  };
}
