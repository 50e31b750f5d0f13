/**
 * Domain names on the wire and in text (RFC 1035 §2.3.4, §3.1, §4.1.4). A name in netlab is
 * presentation text with the trailing dot (`www.cnblogs.com.`, the root is `.`); bytes that are
 * special in master files (`.` `\` `"` `;` `(` `)` `@` `$`) or not printable are escaped the way
 * dig prints them (`\.`, `\032`), and case is preserved both ways.
 *
 * `readName` decodes a possibly compressed name strictly: a label over 63 bytes, a name over 255,
 * or a compression pointer that does not point at a label of a name decoded earlier in the same
 * message is a `DnsFormatError`. The text side (`normalizeName`, `nameKey`, `isSubdomain`, …)
 * validates the same limits and compares names the DNS way (ASCII case-insensitively). Pure.
 */
import { MAX_LABEL_LENGTH, MAX_NAME_LENGTH } from "./constants.ts";
import { decimalEscape, formatError, printableText } from "./primitives.ts";

/** How each byte prints inside a name label: 0 as is, 1 with a backslash, 2 as `\DDD`. */
const LABEL_ESCAPE = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  if (b <= 0x20 || b >= 0x7f) LABEL_ESCAPE[b] = 2;
}
for (const c of '.\\"();@$') LABEL_ESCAPE[c.charCodeAt(0)] = 1;

/** The label of `len` bytes at `start`, escaped as dig prints it (`\.`, `\032`). */
export function labelText(buf: Uint8Array, start: number, len: number): string {
  let s = "";
  for (let i = start; i < start + len; i++) {
    const b = buf[i];
    const e = LABEL_ESCAPE[b];
    s += e === 0
      ? String.fromCharCode(b)
      : e === 1
      ? "\\" + String.fromCharCode(b)
      : decimalEscape(b);
  }
  return s;
}

interface CachedName {
  name: string;
  wireLength: number;
}

/**
 * Per-message decode state: every name decoded so far, by the offset of each of its labels (a
 * suffix of the name starts there). Compression pointers may only point at these offsets.
 */
export interface DecodeContext {
  names: Map<number, CachedName>;
}

/** A fresh decode context, for decoding one message's names with `readName`. */
export function newDecodeContext(): DecodeContext {
  return { names: new Map() };
}

/**
 * Reads a (possibly compressed) name starting at `offset`; its uncompressed part must end by
 * `end`. Returns the presentation text with a trailing dot and the offset after the name.
 *
 * A compression pointer must point at the first byte of a label of a name decoded earlier in
 * `ctx` (RFC 1035 4.1.4: "a prior occurrence of the same name"), never into the header, the
 * middle of a label, raw rdata or forwards. So a name is its own labels plus at most one
 * suffix already known: no loops, no re-reading, and the encoder can always compress a decoded
 * message at least as well as its sender did.
 */
export function readName(
  buf: Uint8Array,
  offset: number,
  end: number,
  ctx: DecodeContext = newDecodeContext(),
): [string, number] {
  let pos = offset;
  let wireLength = 1; // the root label
  let name = "";
  const labelStarts: number[] = [];
  const textStarts: number[] = [];
  const wireBefore: number[] = [];
  let tail: CachedName | undefined;
  while (true) {
    if (pos >= end) {
      throw formatError(offset, "name", `runs past the end at offset ${pos}`);
    }
    const len = buf[pos];
    if (len === 0) {
      pos++;
      break;
    }
    const top = len & 0xc0;
    if (top === 0xc0) {
      if (pos + 2 > end) throw formatError(offset, "name", `pointer at offset ${pos} is cut off`);
      const target = ((len & 0x3f) << 8) | buf[pos + 1];
      tail = ctx.names.get(target);
      if (!tail) {
        throw formatError(
          offset,
          "name",
          target >= offset
            ? `pointer ${target} does not point backwards`
            : `pointer ${target} does not point at an earlier name`,
        );
      }
      if (wireLength - 1 + tail.wireLength > MAX_NAME_LENGTH) {
        throw formatError(offset, "name", `name exceeds ${MAX_NAME_LENGTH} bytes`);
      }
      pos += 2;
      break;
    }
    if (top !== 0) {
      throw formatError(
        offset,
        "name",
        `label length ${len} exceeds ${MAX_LABEL_LENGTH} (label type 0x${
          top.toString(16)
        } is not supported)`,
      );
    }
    if (pos + 1 + len > end) {
      throw formatError(
        offset,
        "name",
        `label of ${len} bytes at offset ${pos} runs past the end (${end - pos - 1} left)`,
      );
    }
    labelStarts.push(pos);
    textStarts.push(name.length);
    wireBefore.push(wireLength - 1);
    wireLength += len + 1;
    if (wireLength > MAX_NAME_LENGTH) {
      throw formatError(offset, "name", `name exceeds ${MAX_NAME_LENGTH} bytes`);
    }
    name += labelText(buf, pos + 1, len) + ".";
    pos += len + 1;
  }
  const full = tail ? name + tail.name : name === "" ? "." : name;
  const totalWire = tail ? wireLength - 1 + tail.wireLength : wireLength;
  // Remember every suffix by the offset of its first label, for later pointers to reuse.
  for (let i = 0; i < labelStarts.length; i++) {
    ctx.names.set(labelStarts[i], {
      name: full.slice(textStarts[i]),
      wireLength: totalWire - wireBefore[i],
    });
  }
  return [full, pos];
}

/** A name parsed from presentation text: its labels as bytes and where each starts in the text. */
interface ParsedName {
  labels: Uint8Array[];
  textStarts: number[];
  wireLength: number;
}

function parseNameText(name: string): ParsedName {
  const invalid = (why: string) => new RangeError(`Invalid name "${printableText(name)}": ${why}`);
  if (name === "" || name === ".") {
    if (name === "") throw new RangeError(`Invalid name "": empty`);
    return { labels: [], textStarts: [], wireLength: 1 };
  }
  const labels: Uint8Array[] = [];
  const textStarts: number[] = [];
  let wireLength = 1;
  let i = 0;
  const n = name.length;
  const scratch = NAME_SCRATCH;
  let used = 0; // bytes of `scratch` the labels so far take
  while (i < n) {
    const start = i;
    let len = 0;
    while (i < n) {
      let c = name.charCodeAt(i);
      if (c === 46) break;
      if (c === 92) {
        const d = /^\d{3}/.exec(name.slice(i + 1, i + 4));
        if (d) {
          c = Number(d[0]);
          if (c > 255) throw invalid(`escape \\${d[0]} exceeds 255`);
          i += 4;
        } else if (i + 1 < n) {
          c = name.charCodeAt(i + 1);
          i += 2;
        } else {
          throw invalid(`dangling backslash`);
        }
      } else {
        if (c > 0x7e) {
          throw invalid(`non-ASCII character (use punycode)`);
        }
        i++;
      }
      if (c > 255) throw invalid(`escape exceeds 255`);
      if (len >= MAX_LABEL_LENGTH) {
        throw invalid(`label longer than ${MAX_LABEL_LENGTH} bytes`);
      }
      scratch[used + len++] = c;
    }
    if (len === 0) throw invalid(`empty label`);
    labels.push(scratch.subarray(used, used + len)); // a view for now, see below
    used += len;
    textStarts.push(start);
    wireLength += len + 1;
    if (wireLength > MAX_NAME_LENGTH) {
      throw invalid(`longer than ${MAX_NAME_LENGTH} bytes`);
    }
    i++; // the dot
  }
  // One buffer for all the labels (a buffer each, or a scratch buffer per call, is most of
  // the cost of a name: the canonical forms DNSSEC signs parse names all the time).
  const own = scratch.slice(0, used);
  for (let l = 0, at = 0; l < labels.length; l++) {
    const length = labels[l].length;
    labels[l] = own.subarray(at, at + length);
    at += length;
  }
  return { labels, textStarts, wireLength };
}

/**
 * Where `parseNameText` gathers label bytes: room for a name that is one label too long, which
 * it rejects once that label ends.
 */
const NAME_SCRATCH = new Uint8Array(MAX_NAME_LENGTH + MAX_LABEL_LENGTH);

function formatLabels(labels: Uint8Array[]): string {
  if (labels.length === 0) return ".";
  let s = "";
  for (const l of labels) s += labelText(l, 0, l.length) + ".";
  return s;
}

const PLAIN_NAME = /^(?:[A-Za-z0-9_*\-/+=]+\.)*[A-Za-z0-9_*\-/+=]+\.?$/;

/**
 * Adds the trailing dot and validates (labels non-empty and ≤ 63 bytes, name ≤ 255 bytes);
 * escapes come back in dig's canonical form. Throws RangeError with the reason.
 */
export function normalizeName(name: string): string {
  if (name === ".") return name;
  if (PLAIN_NAME.test(name) && name.length < 250) {
    let labelLength = 0;
    for (let i = 0; i < name.length; i++) {
      if (name.charCodeAt(i) === 46) labelLength = 0;
      else if (++labelLength > MAX_LABEL_LENGTH) {
        throw new RangeError(
          `Invalid name "${printableText(name)}": label longer than ${MAX_LABEL_LENGTH} bytes`,
        );
      }
    }
    return name.endsWith(".") ? name : name + ".";
  }
  return formatLabels(parseNameText(name).labels);
}

/** The length of `name` on the wire, uncompressed (length bytes and the root label included). */
export function nameWireLength(name: string): number {
  return parseNameText(name).wireLength;
}

/** The labels of a name as bytes (the root has none). Throws RangeError on an invalid name. */
export function nameLabels(name: string): Uint8Array[] {
  return parseNameText(name).labels;
}

/** A lowercase canonical key for a name: equal keys ⇔ the names are equal in DNS. */
export function nameKey(name: string): string {
  const normal = normalizeName(name);
  if (!normal.includes("\\")) return normal.toLowerCase();
  const labels = parseNameText(normal).labels.map((l) =>
    l.map((b) => (b >= 65 && b <= 90 ? b + 32 : b))
  );
  return formatLabels(labels);
}

/** Case-insensitive (ASCII) comparison of two names; the trailing dot is optional. */
export function namesEqual(a: string, b: string): boolean {
  if (a === b) return true;
  if (!a.includes("\\") && !b.includes("\\")) {
    const x = a.endsWith(".") ? a : a + ".";
    const y = b.endsWith(".") ? b : b + ".";
    return x.length === y.length && x.toLowerCase() === y.toLowerCase();
  }
  return nameKey(a) === nameKey(b);
}

/**
 * True when `name` is `zone` or below it (case-insensitive, escapes compared in their canonical
 * form): `evil\.cnblogs.com.` (one label "evil.cnblogs" under `com.`) is not inside `cnblogs.com.`.
 */
export function isSubdomain(name: string, zone: string): boolean {
  return inBailiwick(nameKey(name), nameKey(zone));
}

// ---------------------------------------------------------------------------------------------
// Names, label by label, as text already normalised (fast: no decoding, escapes honoured).

/** Index of the dot that ends the first label of `name` (escapes honoured), or -1 for the root. */
function firstLabelEnd(name: string): number {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 92) i++; // `\.` or the first digit of `\DDD`: never a separator
    else if (c === 46) return i;
  }
  return -1;
}

/** The parent of a name: `www.cnblogs.com.` → `cnblogs.com.`, `com.` → `.`. */
export function parentName(name: string): string {
  if (name === ".") return ".";
  const end = firstLabelEnd(name);
  return end < 0 || end + 1 >= name.length ? "." : name.slice(end + 1);
}

/** How many labels a name has (the root has 0). */
export function labelCount(name: string): number {
  if (name === ".") return 0;
  let count = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 92) i++; // an escape: never a separator
    else if (c === 46) count++;
  }
  return name.endsWith(".") ? count : count + 1;
}

/** The last `count` labels of `name`: (`a.b.c.`, 2) → `b.c.`. */
export function lastLabels(name: string, count: number): string {
  let drop = labelCount(name) - count;
  if (drop <= 0) return name;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 46 && --drop === 0) return i + 1 >= name.length ? "." : name.slice(i + 1);
  }
  return ".";
}

/** `name`, its parent, … up to the root: `a.b.` → `a.b.`, `b.`, `.`. */
export function ancestors(name: string): string[] {
  const out = [name];
  for (let n = name; n !== "."; n = parentName(n)) out.push(parentName(n));
  return out;
}

/** True when two names are equal up to ASCII case. */
export function sameName(a: string, b: string): boolean {
  return a === b || (a.length === b.length && a.toLowerCase() === b.toLowerCase());
}

/**
 * True when `name` is `zone` or below it, compared label by label (case-insensitive): the text
 * before the zone must end with a real dot, not an escaped one.
 */
export function inBailiwick(name: string, zone: string): boolean {
  if (zone === ".") return true;
  if (name.length < zone.length) return false;
  const n = name.toLowerCase();
  const z = zone.toLowerCase();
  if (n === z) return true;
  const dot = n.length - z.length - 1;
  if (dot < 0 || n.charCodeAt(dot) !== 46 || !n.endsWith(z)) return false;
  let backslashes = 0;
  for (let i = dot - 1; i >= 0 && n.charCodeAt(i) === 92; i--) backslashes++;
  return backslashes % 2 === 0;
}

/** True when `name` is strictly below `zone`. */
export function strictlyBelow(name: string, zone: string): boolean {
  return inBailiwick(name, zone) && !sameName(name, zone);
}
