/**
 * Echoing what a user typed in a one-line error message, safely. An argument may hold a newline,
 * a carriage return or a terminal escape sequence; printed as is it would split the message or
 * rewrite the screen. `quoteInput` quotes the text the way JSON does (a newline becomes the two
 * characters `\n`, ESC becomes `\u001b`) and also escapes what JSON leaves raw: DEL, the C1
 * controls (U+0080–U+009F, NEL among them) and the Unicode line and paragraph separators.
 *
 * Pure, no I/O: the parsers of every topic use it. (DNS names are echoed in their own master-file
 * syntax instead, `\010`: see `printableText` in `dns/wire/message.ts`.)
 */

/** `text` as a double-quoted, one-line string: every control character escaped. */
export function quoteInput(text: string): string {
  return JSON.stringify(text).replace(/[\x7f-\x9f\u2028\u2029]/g, (c) => {
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}
