/**
 * How the HTTP parser tests feed input: every way of splitting it (whole, one byte at a time,
 * two pieces at every point), from a read buffer that is scribbled over after each drain, and
 * the outcome of each way as plain data, so that all ways can be compared for equality.
 */
import assert from "node:assert/strict";
import { HttpError } from "../http/core/events.ts";
import type { ParserOptions } from "../http/core/parser.ts";
import { RequestParser } from "../http/core/request_parser.ts";
import { ResponseParser } from "../http/core/response_parser.ts";
import { latin1 } from "../http/core/syntax.ts";

const encoder = new TextEncoder();

/** Either parser. */
export type Parser = RequestParser | ResponseParser;
/** An event as plain data. */
export type Simple = Record<string, unknown>;

/** What one way of feeding produced: events, the error (if any) and the untouched rest. */
export interface Outcome {
  events: Simple[];
  error?: { status: number; peerFault: boolean; message: string };
  remaining: string;
}

/** Turns an event into plain data; body bytes are copied (events are views into the chunk). */
export function simplify(event: NonNullable<ReturnType<Parser["next"]>>): Simple {
  switch (event.kind) {
    case "data":
      return { kind: "data", data: latin1(event.data) };
    case "request":
      return {
        kind: "request",
        method: event.method,
        target: event.target,
        version: event.version,
        headers: event.headers,
        keepAlive: event.keepAlive,
        bodyKind: event.bodyKind,
        contentLength: event.contentLength,
        expectContinue: event.expectContinue,
      };
    case "response":
      return {
        kind: "response",
        status: event.status,
        reason: event.reason,
        version: event.version,
        headers: event.headers,
        keepAlive: event.keepAlive,
        bodyKind: event.bodyKind,
        contentLength: event.contentLength,
      };
    default:
      return { ...event };
  }
}

/** Consecutive data events merged: how a body is split depends on the chunks, not the message. */
function merge(events: Simple[]): Simple[] {
  const out: Simple[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    if (e.kind === "data" && last?.kind === "data") last.data = `${last.data}${e.data}`;
    else out.push(e);
  }
  return out;
}

/** Feeds `chunks` (then EOF if asked) and collects the outcome. */
export function run(make: () => Parser, chunks: Uint8Array[], eof: boolean): Outcome {
  const parser = make();
  const events: Simple[] = [];
  const scratch = new Uint8Array(Math.max(1, ...chunks.map((c) => c.length)));
  const drain = () => {
    while (true) {
      const event = parser.next();
      if (event === null) return;
      events.push(simplify(event));
      if (event.kind === "closed") return;
    }
  };
  try {
    for (const chunk of chunks) {
      // Feed from one reused buffer and scribble over it afterwards: the parser must not keep it.
      scratch.set(chunk);
      parser.feed(scratch.subarray(0, chunk.length));
      drain();
      scratch.fill(0xee);
    }
    if (eof) {
      parser.feedEof();
      drain();
    }
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return {
      events: merge(events),
      error: { status: error.status, peerFault: error.peerFault, message: error.message },
      // After an error the connection is closed: what is left depends on how much arrived.
      remaining: "",
    };
  }
  return { events: merge(events), remaining: latin1(parser.remaining()) };
}

/** Every way of cutting `input`: whole, byte by byte, and two pieces split at each point. */
export function splits(input: Uint8Array): Uint8Array[][] {
  const ways: Uint8Array[][] = [[input]];
  ways.push(Array.from(input, (_, i) => input.subarray(i, i + 1)));
  const step = input.length > 2000 ? 997 : 1;
  for (let i = 1; i < input.length; i += step) {
    ways.push([input.subarray(0, i), input.subarray(i)]);
  }
  return ways;
}

/** Runs `input` every way and asserts all outcomes agree; returns the outcome. */
export function parseAll(make: () => Parser, input: string | Uint8Array, eof = false): Outcome {
  const bytes = typeof input === "string" ? encoder.encode(input) : input;
  const ways = splits(bytes);
  const first = run(make, ways[0], eof);
  for (const way of ways.slice(1)) {
    assert.deepStrictEqual(run(make, way, eof), first, `split into ${way.length} pieces`);
  }
  return first;
}

/** A factory of request parsers with `options`. */
export const requests = (options: ParserOptions = {}) => () => new RequestParser(options);
/** A factory of response parsers expecting answers to `methods`. */
export const responses = (...methods: string[]) => () => {
  const p = new ResponseParser();
  for (const m of methods) p.expect(m);
  return p;
};

/** A seeded generator of numbers in [0, 1) (xorshift32): the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed | 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** `count` random ways of cutting `input` into 2 to 9 pieces. */
export function randomSplits(input: Uint8Array, random: () => number, count: number) {
  const ways: Uint8Array[][] = [];
  for (let i = 0; i < count && input.length > 1; i++) {
    const cuts = new Set<number>();
    const pieces = 1 + Math.floor(random() * 8);
    for (let j = 0; j < pieces; j++) cuts.add(1 + Math.floor(random() * (input.length - 1)));
    const sorted = [...cuts].sort((a, b) => a - b);
    const way: Uint8Array[] = [];
    let at = 0;
    for (const cut of sorted) {
      way.push(input.subarray(at, cut));
      at = cut;
    }
    way.push(input.subarray(at));
    ways.push(way);
  }
  return ways;
}
