/**
 * Text trees for `sds decode` on a terminal: one row per field with its absolute byte
 * offset, its length in bytes, its field number and name (indented by nesting), and a short
 * rendering of its value (strings quoted, integers in decimal with a date hint for
 * timestamps, bytes as text when printable UTF-8, else hex cut at `bytesShownMax`).
 * Rendering only: no I/O, colour through the given palette.
 */
import type { AnnotatedField, DumpNode } from "../core/protocol/wire/index.js";
import type { Palette } from "./color.js";

/** One row of a tree. */
export interface TreeRow {
  depth: number;
  offset: number;
  length: number;
  field: number;
  name: string;
  value: string;
}

/** How values are shown. */
export interface ValueOptions {
  /** Bytes shown before a value is cut (default 48); 0 = show everything. */
  bytesShownMax?: number;
}

const printable = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The bytes as text when they are valid UTF-8 without control characters (tab, LF, CR allowed). */
export function printableUtf8(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return undefined;
  try {
    const text = printable.decode(bytes);
    // eslint-disable-next-line no-control-regex
    return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(text) ? undefined : text;
  } catch {
    return undefined;
  }
}

/** Hex of `bytes`, cut after `max` bytes with a note of the full length. */
export function shortHex(bytes: Uint8Array, max = 48): string {
  if (max > 0 && bytes.length > max) return `${Buffer.from(bytes.subarray(0, max)).toString("hex")}… (${bytes.length} bytes)`;
  return Buffer.from(bytes).toString("hex");
}

/** Bytes as quoted text when printable, else hex; empty bytes as `(empty)`. */
export function showBytes(bytes: Uint8Array, options: ValueOptions = {}): string {
  if (bytes.length === 0) return "(empty)";
  const max = options.bytesShownMax ?? 48;
  const text = printableUtf8(bytes);
  if (text !== undefined) {
    const cut = max > 0 && text.length > max * 2 ? `${text.slice(0, max * 2)}…` : text;
    return `${JSON.stringify(cut)} (${bytes.length} bytes, text)`;
  }
  return `0x${shortHex(bytes, max)}${max > 0 && bytes.length > max ? "" : ` (${bytes.length} bytes)`}`;
}

/** A decimal integer, with an ISO date when it looks like Unix milliseconds or seconds (2001–2286). */
export function showInteger(value: bigint): string {
  const text = value.toString();
  if (value >= 1_000_000_000_000n && value < 10_000_000_000_000n) return `${text} (${new Date(Number(value)).toISOString()} if ms)`;
  if (value >= 1_000_000_000n && value < 10_000_000_000n) return `${text} (${new Date(Number(value) * 1000).toISOString()} if s)`;
  return text;
}

function showValue(value: string | bigint | Uint8Array | undefined, options: ValueOptions): string {
  if (value === undefined) return "";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return showInteger(value);
  return showBytes(value, options);
}

/** Rows of an annotated SDS message; `describe` may replace the value text of a field (e.g. a bloom summary). */
export function rowsFromAnnotated(fields: AnnotatedField[], options: ValueOptions & { describe?: (field: AnnotatedField) => string | undefined } = {}, depth = 0): TreeRow[] {
  const rows: TreeRow[] = [];
  for (const field of fields) {
    const value = options.describe?.(field) ?? showValue(field.value, options);
    rows.push({ depth, offset: field.offset, length: field.length, field: field.field, name: field.name === "unknown" ? `unknown (${field.wireTypeName})` : field.name, value });
    if (field.children) rows.push(...rowsFromAnnotated(field.children, options, depth + 1));
  }
  return rows;
}

/** Rows of a schema-less dump. */
export function rowsFromDump(nodes: DumpNode[], options: ValueOptions = {}, depth = 0): TreeRow[] {
  const rows: TreeRow[] = [];
  for (const node of nodes) {
    let value: string;
    if (node.kind === "message") value = `message (${node.valueLength} bytes)`;
    else if (node.kind === "fixed64" || node.kind === "fixed32") value = `${node.kind} ${String(node.value)}`;
    else value = showValue(node.value as string | bigint | Uint8Array, options);
    rows.push({ depth, offset: node.offset, length: node.length, field: node.field, name: node.kind, value });
    if (node.children) rows.push(...rowsFromDump(node.children, options, depth + 1));
  }
  return rows;
}

/** Lays rows out in aligned columns: `@offset  +length  field  name  value`. */
export function renderTree(rows: TreeRow[], palette: Palette, indent = "  "): string {
  const offsetWidth = Math.max(2, ...rows.map((row) => String(row.offset).length + 1));
  const lengthWidth = Math.max(2, ...rows.map((row) => String(row.length).length + 1));
  const fieldWidth = Math.max(2, ...rows.map((row) => String(row.field).length));
  const nameWidth = Math.max(4, ...rows.map((row) => row.name.length + row.depth * 2));
  return rows
    .map((row) => {
      const offset = palette.dim(`@${row.offset}`.padEnd(offsetWidth));
      const length = palette.dim(`+${row.length}`.padEnd(lengthWidth));
      const field = String(row.field).padStart(fieldWidth);
      const name = palette.cyan(`${"  ".repeat(row.depth)}${row.name}`.padEnd(nameWidth));
      return `${indent}${offset} ${length} ${field} ${name}  ${row.value}`.trimEnd();
    })
    .join("\n");
}
