/** Status codes (seed 003: 响应码): reason phrases and the five classes. */

/** Reason phrases of RFC 9110 §15 (and a few common extensions). */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: "Continue",
  101: "Switching Protocols",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** The five status classes: the first digit says how the request went (seed 003's 1xx–5xx). */
export const STATUS_CLASSES: Readonly<Record<1 | 2 | 3 | 4 | 5, string>> = {
  1: "Informational: request received, continuing",
  2: "Successful: request received, understood and accepted",
  3: "Redirection: further action (another URL) needed",
  4: "Client error: the request is wrong or cannot be fulfilled",
  5: "Server error: the server failed to fulfil a valid request",
};

/** The reason phrase for `status` (an empty string for codes without one). */
export function reasonPhrase(status: number): string {
  return STATUS_TEXT[status] ?? "";
}

/** The class text for `status` (1xx–5xx); throws RangeError outside 100–599. */
export function statusClass(status: number): string {
  const digit = Math.floor(status / 100);
  if (!Number.isInteger(status) || digit < 1 || digit > 5) {
    throw new RangeError(`Invalid status code "${status}": expected 100 to 599`);
  }
  return STATUS_CLASSES[digit as 1 | 2 | 3 | 4 | 5];
}
