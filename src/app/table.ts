/**
 * Human tables for the end-of-run summaries (`demo`, `replay`, `send`), rendered with
 * cli-table3. Colour is decided by the caller (BaseCommand's one decision) and passed in:
 * cli-table3's own sniffing ignores NO_COLOR, so with colour off its head/border styles are
 * emptied explicitly. Numbers are right-aligned. Scripts should use `--json` instead.
 */
import Table from "cli-table3";

/** One table cell: text or a number. */
export type TableCell = string | number | bigint | boolean | null | undefined;

/** Options of {@link renderTable}. */
export interface RenderTableOptions {
  /** ANSI colour for the header and borders. */
  color: boolean;
  /** An optional title row spanning every column. */
  title?: string;
}

/** Renders rows under a header; returns the text without a trailing newline. */
export function renderTable(head: readonly string[], rows: readonly (readonly TableCell[])[], options: RenderTableOptions): string {
  const table = new Table({
    head: [...head],
    style: options.color ? { head: ["cyan"], border: ["grey"] } : { head: [], border: [] },
    colAligns: head.map((_, index) => (rows.length > 0 && rows.every((row) => typeof row[index] === "number" || typeof row[index] === "bigint") ? "right" : "left")),
  });
  if (options.title !== undefined) table.push([{ colSpan: head.length, content: options.title }]);
  for (const row of rows) table.push(row.map((cell) => (cell === null || cell === undefined ? "" : typeof cell === "bigint" ? cell.toString() : cell)));
  return table.toString();
}
