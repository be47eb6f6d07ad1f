// RFC 4180 CSV, both ways: the derived tables are committed and re-read by the chart step.

export type CsvValue = string | number | boolean | null | undefined;

function cell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'number' && !Number.isFinite(value) ? '' : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv<R extends object>(columns: readonly (keyof R & string)[], rows: readonly R[]): string {
  const lines = [columns.map(cell).join(',')];
  for (const row of rows) lines.push(columns.map((c) => cell(row[c] as CsvValue)).join(','));
  return lines.join('\n') + '\n';
}

/** Every row has the first row's keys, in its order: the columns are the fields of whatever built them. */
export function rowsToCsv<R extends object>(rows: readonly R[]): string {
  return rows.length === 0 ? '' : toCsv(Object.keys(rows[0]!) as (keyof R & string)[], rows);
}

/** Rows as column → text (empty string for an empty cell). */
export function parseCsv(text: string): Record<string, string>[] {
  const table: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      table.push(row);
      row = [];
      field = '';
    } else {
      field += ch;
    }
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    table.push(row);
  }
  const [header, ...body] = table;
  if (header === undefined) return [];
  return body.map((values) => Object.fromEntries(header.map((name, i) => [name, values[i] ?? ''])));
}
