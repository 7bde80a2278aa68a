/**
 * Plain-text tables for humans: columns padded to their widest cell, two
 * spaces apart, no trailing blanks. Colour only when asked for (the caller
 * decides: a TTY and no NO_COLOR); widths ignore the escape codes.
 */
export type Style = 'bold' | 'dim' | 'green' | 'yellow' | 'red';
export type Cell = string | { text: string; style?: Style | undefined };

const CODES: Record<Style, [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  green: [32, 39],
  yellow: [33, 39],
  red: [31, 39],
};

export function paint(text: string, style: Style | undefined, color: boolean): string {
  if (!color || !style || text === '') return text;
  const [on, off] = CODES[style];
  return `\u001b[${on}m${text}\u001b[${off}m`;
}

const ANSI = /\u001b\[[0-9;]*m/g;

/** Columns a string occupies on a terminal (escape codes excluded; one column per code point). */
export function visibleWidth(text: string): number {
  return [...text.replace(ANSI, '')].length;
}

export interface TableOptions {
  color?: boolean;
  /** Per column; default left. Numbers read better right-aligned. */
  align?: readonly ('left' | 'right')[];
}

const textOf = (cell: Cell): string => (typeof cell === 'string' ? cell : cell.text).replace(/[\r\n\t]+/g, ' ');

export function renderTable(headers: readonly string[], rows: readonly (readonly Cell[])[], options: TableOptions = {}): string {
  const color = options.color ?? false;
  const widths = headers.map((h, i) => Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(textOf(r[i] ?? '')))));
  const line = (cells: readonly Cell[], header: boolean): string =>
    headers
      .map((_, i) => {
        const cell = cells[i] ?? '';
        const text = textOf(cell);
        const pad = ' '.repeat((widths[i] ?? 0) - visibleWidth(text));
        const style = header ? 'bold' : typeof cell === 'string' ? undefined : cell.style;
        const painted = paint(text, style, color);
        return options.align?.[i] === 'right' ? pad + painted : painted + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(headers, true), ...rows.map((r) => line(r, false))].join('\n');
}

/** `Label   value` lines with the labels aligned, for `show` commands. */
export function renderFields(fields: readonly (readonly [string, Cell])[], options: { color?: boolean; indent?: string } = {}): string {
  const width = Math.max(0, ...fields.map(([label]) => visibleWidth(label)));
  const indent = options.indent ?? '';
  return fields
    .map(([label, cell]) => {
      const text = textOf(cell);
      const style = typeof cell === 'string' ? undefined : cell.style;
      return `${indent}${paint(label.padEnd(width), 'bold', options.color ?? false)}  ${paint(text, style, options.color ?? false)}`.trimEnd();
    })
    .join('\n');
}
