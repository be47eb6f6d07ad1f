/**
 * One progress line on stderr, rewritten in place a few times a second while a case runs: only when stderr
 * is a terminal (or --progress asks for it), so logs and pipes never fill with carriage returns.
 */
const REFRESH_MS = 250;
const CLEAR_LINE = '\r\x1b[2K';

export class ProgressLine {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly enabled: boolean,
    private readonly out: NodeJS.WritableStream = process.stderr,
  ) {}

  /** Shows `render()` until stop(); replaces what was shown before. */
  show(render: () => string): void {
    if (!this.enabled) return;
    this.stop();
    const draw = (): void => {
      this.out.write(CLEAR_LINE + render());
    };
    draw();
    this.timer = setInterval(draw, REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    this.out.write(CLEAR_LINE);
  }
}
