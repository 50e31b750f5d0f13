/**
 * The annotated wire view behind every `--explain`: bytes on the left, the field they encode and
 * what it means on the right. Codecs describe what they decode as a list of fields (offset,
 * length, name, value); this module only lays them out, so the view is never hand-written per
 * script and always matches the bytes that really went over the wire.
 *
 * Pure: no I/O. Tested with golden outputs.
 */

/** One field of a message: `length` bytes at `offset`, and what they mean. */
export interface ExplainField {
  offset: number;
  length: number;
  /** e.g. `id`, `flags`, `label`, `Content-Length`. */
  name: string;
  /** What the bytes mean, e.g. `41394`, `"www" (length 3)`, `pointer to offset 12 → cnblogs.com.`. */
  value?: string;
  /** Nesting level (0 = top), for fields inside a record or a name. */
  depth?: number;
}

/** Options for `explainBytes`. */
export interface ExplainOptions {
  /** A heading line, e.g. `DNS response, 86 bytes, from 127.0.0.2:53`. */
  title?: string;
  /** Hex bytes shown per line (default 8). */
  bytesPerLine?: number;
  /** Lines of hex at most per field; the rest is summarised (default 4). */
  maxLinesPerField?: number;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** `0a 1b ff` for the given bytes. */
export function hexBytes(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += (i ? " " : "") + HEX[bytes[i]];
  return out;
}

/** The bytes as text with every non-printable ASCII byte shown as `.` (the hexdump column). */
export function printableAscii(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
  return out;
}

/** A 4-digit hex offset (wider when needed). */
export function formatOffset(offset: number): string {
  return offset.toString(16).padStart(4, "0");
}

/**
 * Lays out `fields` over `bytes`: one line per field (more for long fields), in offset order.
 * Bytes no field covers are shown as `(unexplained)` so a codec's description can never hide
 * part of a message.
 */
export function explainBytes(
  bytes: Uint8Array,
  fields: ExplainField[],
  options: ExplainOptions = {},
): string {
  const perLine = options.bytesPerLine ?? 8;
  const maxLines = options.maxLinesPerField ?? 4;
  const hexWidth = perLine * 3 - 1;
  const lines: string[] = [];
  if (options.title) lines.push(options.title);

  const sorted = [...fields].sort((a, b) => a.offset - b.offset || b.length - a.length);
  const rows: ExplainField[] = [];
  let covered = 0;
  for (const field of sorted) {
    // Containers (a whole record) may overlap their parts: only gaps before a field matter.
    if (field.offset > covered) {
      rows.push({ offset: covered, length: field.offset - covered, name: "(unexplained)" });
    }
    rows.push(field);
    covered = Math.max(covered, field.offset + field.length);
  }
  if (covered < bytes.length) {
    rows.push({ offset: covered, length: bytes.length - covered, name: "(unexplained)" });
  }

  rows.forEach((row, index) => {
    // A container (a whole name or record) followed by its parts shows its label only: the
    // parts carry the bytes.
    const next = rows[index + 1];
    const isContainer = next !== undefined && next.offset >= row.offset &&
      next.offset + next.length <= row.offset + row.length && (next.depth ?? 0) > (row.depth ?? 0);
    const indent = "  ".repeat(row.depth ?? 0);
    const label = `${indent}${row.name}`;
    const value = row.value ?? "";
    const end = Math.min(row.offset + row.length, bytes.length);
    const chunks: string[] = [];
    for (let at = row.offset; !isContainer && at < end; at += perLine) {
      chunks.push(hexBytes(bytes.subarray(at, Math.min(at + perLine, end))));
    }
    if (chunks.length === 0) chunks.push("");
    const shown = chunks.length > maxLines ? chunks.slice(0, maxLines - 1) : chunks;
    shown.forEach((hex, i) => {
      const offset = formatOffset(row.offset + i * perLine);
      const text = i === 0 ? `${label.padEnd(20)} ${value}`.trimEnd() : "";
      lines.push(`  ${offset}  ${hex.padEnd(hexWidth)}  ${text}`.trimEnd());
    });
    if (chunks.length > maxLines) {
      const hidden = end - (row.offset + shown.length * perLine);
      lines.push(`  ${"".padEnd(4)}  ${`… ${hidden} more bytes`.padEnd(hexWidth)}`.trimEnd());
    }
  });
  return lines.join("\n");
}

/**
 * The classic `hexdump -C` view (offset, 16 hex bytes, printable text) for raw TCP/UDP reads and
 * writes that have no codec. `maxBytes` (default 256) caps the output; the rest is summarised.
 */
export function hexdump(bytes: Uint8Array, { maxBytes = 256, width = 16 } = {}): string {
  const lines: string[] = [];
  const end = Math.min(bytes.length, maxBytes);
  for (let at = 0; at < end; at += width) {
    const row = bytes.subarray(at, Math.min(at + width, end));
    lines.push(
      `  ${formatOffset(at)}  ${hexBytes(row).padEnd(width * 3 - 1)}  |${printableAscii(row)}|`,
    );
  }
  if (bytes.length > end) lines.push(`  … ${bytes.length - end} more bytes`);
  return lines.join("\n");
}
