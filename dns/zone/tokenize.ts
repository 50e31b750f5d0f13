/**
 * The lexical layer of a master file (RFC 1035 §5.1): text in, entries out — one per logical
 * line, where parentheses join physical lines, `;` starts a comment, `"…"` is one token (escapes
 * kept), a backslash escapes the next character, and a line that starts with a blank inherits
 * the previous owner. Pure; every limit is checked as the text is read.
 */

/** One token: a word, or a quoted string (its escapes kept). */
export interface Token {
  text: string;
  quoted: boolean;
}

/** One logical line (parentheses join physical lines). */
export interface Entry {
  line: number;
  /** The line began with a blank: the owner is the previous one. */
  blankOwner: boolean;
  tokens: Token[];
}

/** Splits master-file text into entries (logical lines). */
export function tokenize(
  text: string,
  maxLineLength: number,
  fail: (detail: string, line: number) => Error,
): Entry[] {
  const entries: Entry[] = [];
  let line = 1;
  let lineStart = 0;
  let depth = 0;
  let parenLine = 0;
  let current: Entry | null = null;
  let token = "";
  let inToken = false;
  const endToken = () => {
    if (inToken) {
      current!.tokens.push({ text: token, quoted: false });
      token = "";
      inToken = false;
    }
  };
  const startEntry = (blank: boolean) => {
    current = { line, blankOwner: blank, tokens: [] };
  };
  const endEntry = () => {
    endToken();
    if (current && current.tokens.length) entries.push(current);
    current = null;
  };
  startEntry(text[0] === " " || text[0] === "\t");
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i];
    if (c === "\n") {
      if (i - lineStart > maxLineLength) {
        throw fail(`line longer than ${maxLineLength} characters`, line);
      }
      endToken();
      line++;
      lineStart = i + 1;
      if (depth === 0) {
        endEntry();
        const next = text[i + 1];
        startEntry(next === " " || next === "\t");
      }
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      endToken();
      continue;
    }
    if (c === ";") {
      endToken();
      while (i + 1 < n && text[i + 1] !== "\n") i++;
      continue;
    }
    if (c === "(") {
      endToken();
      if (depth === 0) parenLine = line;
      depth++;
      continue;
    }
    if (c === ")") {
      endToken();
      if (depth === 0) throw fail(`unbalanced ")"`, line);
      depth--;
      continue;
    }
    if (c === '"') {
      endToken();
      let value = "";
      let j = i + 1;
      for (; j < n && text[j] !== '"'; j++) {
        if (text[j] === "\n") throw fail("unterminated quoted string", line);
        if (text[j] === "\\" && j + 1 < n && text[j + 1] !== "\n") {
          value += text[j] + text[j + 1];
          j++;
        } else {
          value += text[j];
        }
      }
      if (j >= n) throw fail("unterminated quoted string", line);
      current!.tokens.push({ text: value, quoted: true });
      i = j;
      continue;
    }
    if (c === "\\") {
      // A backslash escapes the next character; at the end of a line it escapes nothing (it
      // would otherwise swallow the dot joining a relative name to its origin).
      const next = text[i + 1];
      if (next === undefined || next === "\n" || next === "\r") {
        throw fail("a backslash ends the line: nothing follows it to escape", line);
      }
      token += c + next;
      inToken = true;
      i++;
      continue;
    }
    token += c;
    inToken = true;
  }
  if (n - lineStart > maxLineLength) {
    throw fail(`line longer than ${maxLineLength} characters`, line);
  }
  if (depth > 0) throw fail(`unbalanced "(" opened on line ${parenLine}`, parenLine);
  endEntry();
  return entries;
}

const encoder = new TextEncoder();

/** A master-file string (escapes `\X` and `\DDD`, UTF-8 for the rest) as bytes. */
export function unescapeString(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 92 && i + 1 < text.length) {
      const digits = /^\d{3}/.exec(text.slice(i + 1, i + 4));
      if (digits) {
        const v = Number(digits[0]);
        if (v > 255) throw new RangeError(`escape \\${digits[0]} exceeds 255`);
        out.push(v);
        i += 3;
      } else {
        const cp = text.codePointAt(i + 1)!;
        if (cp < 0x80) out.push(cp);
        else out.push(...encoder.encode(String.fromCodePoint(cp)));
        i += cp > 0xffff ? 2 : 1;
      }
    } else if (code < 0x80) {
      out.push(code);
    } else {
      const cp = text.codePointAt(i)!;
      out.push(...encoder.encode(String.fromCodePoint(cp)));
      if (cp > 0xffff) i++;
    }
  }
  return new Uint8Array(out);
}
