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

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Length of the UTF-8 sequence a lead byte announces, or 0 if it cannot start a printable one. */
function sequenceLength(lead: number): number {
  if (lead >= 0x20 && lead < 0x7f) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/**
 * Bytes as a quoted string: printable UTF-8 as itself, every other byte as `\xNN`
 * (`"hello\x00\xff你好"`), so glued binary and text stay readable. `maxBytes` (default: all)
 * shortens long payloads with `…`.
 */
export function describeBytes(
  bytes: Uint8Array,
  { maxBytes = Infinity }: { maxBytes?: number } = {},
): string {
  const end = Math.min(bytes.length, maxBytes);
  let out = "";
  for (let i = 0; i < end;) {
    const n = sequenceLength(bytes[i]);
    if (n > 0 && i + n <= bytes.length) {
      try {
        const char = strictUtf8.decode(bytes.subarray(i, i + n));
        out += char === '"' || char === "\\" ? `\\${char}` : char;
        i += n;
        continue;
      } catch {
        // Not a valid sequence: show the lead byte in hex.
      }
    }
    out += `\\x${HEX[bytes[i]]}`;
    i++;
  }
  return `"${out}"${bytes.length > end ? "…" : ""}`;
}

/**
 * One raw read or write as `--explain` shows it: a heading (`read #2: 5 bytes from …`), the
 * hexdump and the bytes as text (UTF-8 that the hexdump's ASCII column cannot show).
 */
export function chunkView(heading: string, bytes: Uint8Array, { maxBytes = 256 } = {}): string {
  const lines = [heading];
  if (bytes.length) lines.push(hexdump(bytes, { maxBytes }));
  lines.push(`  text  ${describeBytes(bytes, { maxBytes })}`);
  return lines.join("\n");
}

/** Bytes `from` to `to` (half-open) of write number `write` (0-based), inside one read. */
export interface ReadPiece {
  /** Index of the write, or -1 for bytes beyond everything written (not from a known write). */
  write: number;
  from: number;
  to: number;
}

/** One read of a byte stream and the writes its bytes came from. */
export interface ReadMapping {
  /** 0-based read number. */
  read: number;
  /** Stream offset of its first byte. */
  start: number;
  length: number;
  pieces: ReadPiece[];
}

/**
 * The 粘包 arithmetic: given the sizes of the writes one side made and of the reads the other
 * side got (both in stream order), says which byte range of which write ended up in each read.
 * A stream keeps the bytes in order, so the mapping follows from the sizes alone.
 */
export function mapReadsToWrites(
  writeSizes: readonly number[],
  readSizes: readonly number[],
): ReadMapping[] {
  const writeStarts: number[] = [];
  let total = 0;
  for (const size of writeSizes) {
    writeStarts.push(total);
    total += size;
  }
  const mappings: ReadMapping[] = [];
  let offset = 0;
  let w = 0;
  readSizes.forEach((length, read) => {
    const pieces: ReadPiece[] = [];
    const end = offset + length;
    let at = offset;
    while (at < end) {
      while (w < writeSizes.length && writeStarts[w] + writeSizes[w] <= at) w++;
      if (w >= writeSizes.length) {
        pieces.push({ write: -1, from: at - total, to: end - total });
        break;
      }
      const writeEnd = writeStarts[w] + writeSizes[w];
      const to = Math.min(end, writeEnd);
      pieces.push({ write: w, from: at - writeStarts[w], to: to - writeStarts[w] });
      at = to;
    }
    mappings.push({ read, start: offset, length, pieces });
    offset = end;
  });
  return mappings;
}

/** Options for `stickyView`. */
export interface StickyViewOptions {
  /** Heading (default `粘包 view`). */
  title?: string;
  /** Reads listed at most; the rest is summarised (default 12). */
  maxReads?: number;
  /** Bytes of text shown per piece (default 24). */
  maxText?: number;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * The 粘包 view: N writes → M reads, and for each read which writes (or which part of a write)
 * it carried. Writes and reads are given as bytes (the text is shown) or as sizes.
 */
export function stickyView(
  writes: readonly (Uint8Array | number)[],
  reads: readonly (Uint8Array | number)[],
  options: StickyViewOptions = {},
): string {
  const { title = "粘包 view", maxReads = 12, maxText = 24 } = options;
  const size = (x: Uint8Array | number) => typeof x === "number" ? x : x.length;
  const writeSizes = writes.map(size);
  const readSizes = reads.map(size);
  const totalWritten = writeSizes.reduce((a, b) => a + b, 0);
  const totalRead = readSizes.reduce((a, b) => a + b, 0);
  const mappings = mapReadsToWrites(writeSizes, readSizes);
  const lines = [
    `${title}: ${plural(writes.length, "write")} (${totalWritten} bytes) → ` +
    `${plural(reads.length, "read")} (${totalRead} bytes)`,
  ];
  const describePiece = ({ write, from, to }: ReadPiece): string => {
    if (write < 0) return `${to - from} bytes beyond the writes`;
    const source = writes[write];
    const whole = from === 0 && to === writeSizes[write];
    const text = typeof source === "number"
      ? ""
      : ` ${describeBytes(source.subarray(from, to), { maxBytes: maxText })}`;
    if (whole) return `w${write + 1}${text || ` (${writeSizes[write]} bytes)`}`;
    return `w${write + 1} bytes ${from}..${to - 1} (${to - from} of ${writeSizes[write]})${text}`;
  };
  const width = String(reads.length).length;
  for (const m of mappings.slice(0, maxReads)) {
    const name = `read #${String(m.read + 1).padEnd(width)}`;
    lines.push(
      `  ${name}  ${String(m.length).padStart(6)} bytes = ${
        m.pieces.map(describePiece).join(" + ")
      }`,
    );
  }
  if (mappings.length > maxReads) {
    lines.push(`  … ${plural(mappings.length - maxReads, "more read")}`);
  }
  const glued = mappings.filter((m) => new Set(m.pieces.map((p) => p.write)).size > 1).length;
  const readsPerWrite = new Map<number, number>();
  for (const m of mappings) {
    for (const p of m.pieces) readsPerWrite.set(p.write, (readsPerWrite.get(p.write) ?? 0) + 1);
  }
  const split = [...readsPerWrite].filter(([w, n]) => w >= 0 && n > 1).length;
  lines.push(
    `  → ${plural(glued, "read")} carried more than one write (粘包: glued); ` +
      `${plural(split, "write")} came out in more than one read (split)`,
  );
  return lines.join("\n");
}
