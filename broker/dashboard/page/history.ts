/** Points kept per series: two minutes at one snapshot a second. */
export const HISTORY_POINTS = 120;

export type Column = (number | null)[];

/**
 * The charts' data: one time axis and named columns aligned with it. A series that appears later (a new
 * stream) is padded with nulls before its first point; one that stops reporting gets nulls, and is
 * forgotten once it has no point left in the window.
 */
export class History {
  /** Seconds since the epoch, as uPlot's time axis expects. */
  readonly times: number[] = [];
  private readonly columns = new Map<string, Column>();

  record(epochMs: number, values: Readonly<Record<string, number | null>>): void {
    const length = this.times.length;
    this.times.push(epochMs / 1000);
    for (const [key, column] of this.columns) column.push(values[key] ?? null);
    for (const [key, value] of Object.entries(values)) {
      if (!this.columns.has(key)) this.columns.set(key, [...new Array<null>(length).fill(null), value]);
    }
    if (this.times.length > HISTORY_POINTS) {
      this.times.shift();
      for (const [key, column] of this.columns) {
        column.shift();
        if (column.every((v) => v === null)) this.columns.delete(key);
      }
    }
  }

  column(key: string): Column {
    return this.columns.get(key) ?? new Array<null>(this.times.length).fill(null);
  }
}
