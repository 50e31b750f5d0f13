/**
 * The layout rules of ARCHITECTURE.md, checked on the real source tree: every module of tcp/,
 * udp/, dns/ and http/ is parsed (Deno's own TypeScript parser, through `Deno.lint.runPlugin`),
 * its imports resolved, and the rules below applied. A rule broken today by code that is being
 * reorganised is listed in `KNOWN` with its issue; the list may only shrink — an entry that no
 * longer matches anything fails the test too, so it is removed as soon as it is fixed.
 *
 * Rules:
 * - only tcp/linux/ calls `Deno.dlopen`;
 * - nothing imports a lesson script (a module with `import.meta.main`), except the tests;
 * - a lesson reaches the Linux layer only through a core seam (never imports tcp/linux/);
 * - folders depend one way, tcp ← udp ← dns ← http: tcp/ imports none of the others, udp/
 *   neither dns/ nor http/, dns/ not http/ — and no cycle between folders;
 * - no module over 600 lines and no function over 150 lines, unless the module's header has a
 *   line starting "Size:" that says why.
 */
import assert from "node:assert/strict";
import { ROOT } from "./_helpers.ts";

/** The product's folders, lowest first (each may import only the ones before it). */
const FOLDERS = ["tcp", "udp", "dns", "http"] as const;
type Folder = typeof FOLDERS[number];

const MAX_MODULE_LINES = 600;
const MAX_FUNCTION_LINES = 150;

/**
 * Rules broken today, each with the issue that removes it (`"path: rule": "#N"`). Empty: every
 * module keeps every rule. An entry may only be added with its issue, and is removed as soon as
 * it no longer matches (the test below fails until it is).
 */
const KNOWN: Record<string, string> = {};

/** What one module contains, as far as the rules care. */
interface ModuleFacts {
  path: string;
  lines: number;
  imports: string[];
  callsDlopen: boolean;
  isLesson: boolean;
  sizeReason: boolean;
  /** Names of the functions longer than the limit. */
  longFunctions: string[];
}

/** Every `.ts` module under `dir` (relative to the repository root). */
function modulesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(`${ROOT}${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...modulesUnder(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** Line number (1-based) of character `offset` in `text`. */
function lineAt(lineStarts: number[], offset: number): number {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** Parses `path` and collects its imports, dlopen calls, lesson guard and long functions. */
function factsOf(path: string): ModuleFacts {
  const text = Deno.readTextFileSync(`${ROOT}${path}`);
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStarts.push(i + 1);
  const facts: ModuleFacts = {
    path,
    lines: text.endsWith("\n") ? lineStarts.length - 1 : lineStarts.length,
    imports: [],
    callsDlopen: false,
    isLesson: false,
    sizeReason: /^\s*\*\s*Size:/m.test(/^\/\*\*[\s\S]*?\*\//.exec(text)?.[0] ?? ""),
    longFunctions: [],
  };
  const base = new URL(path, `file://${ROOT}`);
  const addImport = (specifier: unknown) => {
    if (typeof specifier !== "string" || !specifier.startsWith(".")) return;
    facts.imports.push(new URL(specifier, base).pathname.slice(ROOT.length));
  };
  const measure = (name: string, range: [number, number]) => {
    const lines = lineAt(lineStarts, range[1] - 1) - lineAt(lineStarts, range[0]) + 1;
    if (lines > MAX_FUNCTION_LINES) facts.longFunctions.push(name);
  };
  type Node = { range: [number, number] };
  type Named = Node & { id?: { name?: string } | null };
  const plugin: Deno.lint.Plugin = {
    name: "layout",
    rules: {
      facts: {
        create() {
          return {
            ImportDeclaration: (node) => addImport(node.source.value),
            ExportAllDeclaration: (node) => addImport(node.source.value),
            ExportNamedDeclaration: (node) => addImport(node.source?.value),
            ImportExpression: (node) => {
              if (node.source.type === "Literal") addImport(node.source.value);
            },
            MemberExpression: (node) => {
              const { object, property } = node;
              if (property.type !== "Identifier") return;
              if (
                object.type === "Identifier" && object.name === "Deno" &&
                property.name === "dlopen"
              ) facts.callsDlopen = true;
              if (
                object.type === "MetaProperty" && object.meta.name === "import" &&
                property.name === "main"
              ) facts.isLesson = true;
            },
            FunctionDeclaration: (node) =>
              measure((node as Named).id?.name ?? "function", node.range),
            FunctionExpression: (node) =>
              measure((node as Named).id?.name ?? "function expression", node.range),
            ArrowFunctionExpression: (node) => measure("arrow function", node.range),
          };
        },
      },
    },
  };
  Deno.lint.runPlugin(plugin, path, text);
  return facts;
}

function folderOf(path: string): Folder | "tests" | undefined {
  const top = path.split("/")[0];
  if (top === "tests") return "tests";
  return (FOLDERS as readonly string[]).includes(top) ? top as Folder : undefined;
}

/** Every broken rule, as one line each (the keys of `KNOWN`). */
function violations(modules: ModuleFacts[]): string[] {
  const byPath = new Map(modules.map((m) => [m.path, m]));
  const found: string[] = [];
  const folderEdges = new Map<Folder, Set<Folder>>(FOLDERS.map((f) => [f, new Set()]));
  for (const m of modules) {
    const from = folderOf(m.path);
    if (m.callsDlopen && !m.path.startsWith("tcp/linux/")) {
      found.push(`${m.path}: calls Deno.dlopen outside tcp/linux/`);
    }
    if (from !== "tests") {
      if (m.lines > MAX_MODULE_LINES && !m.sizeReason) {
        found.push(`${m.path}: over ${MAX_MODULE_LINES} lines`);
      }
      for (const name of m.longFunctions) {
        if (!m.sizeReason) {
          found.push(`${m.path}: function ${name} over ${MAX_FUNCTION_LINES} lines`);
        }
      }
    }
    for (const target of new Set(m.imports)) {
      const to = folderOf(target);
      const imported = byPath.get(target);
      if (from !== "tests" && imported?.isLesson) {
        found.push(`${m.path}: imports the lesson ${target}`);
      }
      if (m.isLesson && target.startsWith("tcp/linux/") && !m.path.startsWith("tcp/linux/")) {
        found.push(`${m.path}: a lesson imports the Linux layer ${target}`);
      }
      if (!from || from === "tests" || !to || to === "tests" || to === from) continue;
      folderEdges.get(from)!.add(to);
      if (FOLDERS.indexOf(to) > FOLDERS.indexOf(from)) {
        found.push(`${m.path}: ${from}/ imports ${to}/ (${target})`);
      }
    }
  }
  for (const cycle of folderCycles(folderEdges)) found.push(`folders import each other: ${cycle}`);
  return found;
}

/** Each cycle in the folder graph, as `a → b → a` (found by a depth-first walk). */
function folderCycles(edges: Map<Folder, Set<Folder>>): string[] {
  const cycles = new Set<string>();
  const walk = (path: Folder[]) => {
    for (const next of edges.get(path[path.length - 1]) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) {
        // Written from its lowest folder, so one cycle is reported once.
        const ring = path.slice(at);
        const low = ring.indexOf(
          [...ring].sort((a, b) => FOLDERS.indexOf(a) - FOLDERS.indexOf(b))[0],
        );
        const from = [...ring.slice(low), ...ring.slice(0, low)];
        cycles.add([...from, from[0]].join(" → "));
      } else walk([...path, next]);
    }
  };
  for (const folder of FOLDERS) walk([folder]);
  return [...cycles];
}

function checkTree(): { found: string[]; modules: ModuleFacts[] } {
  const modules = [...FOLDERS, "tests"].flatMap(modulesUnder).map(factsOf);
  return { found: violations(modules), modules };
}

Deno.test("layout: the rules hold, apart from the known cases listed with their issue", () => {
  const { found, modules } = checkTree();
  assert.ok(modules.length > 50, "the whole tree was read");
  assert.ok(modules.some((m) => m.isLesson), "lessons are recognised");
  assert.ok(modules.some((m) => m.callsDlopen), "the libc opener is recognised");
  const unexpected = found.filter((v) => !(v in KNOWN));
  assert.deepEqual(unexpected, [], `layout rules broken:\n${unexpected.join("\n")}`);
  const fixed = Object.keys(KNOWN).filter((v) => !found.includes(v));
  assert.deepEqual(fixed, [], `no longer broken, remove from KNOWN:\n${fixed.join("\n")}`);
});

Deno.test("layout: each rule catches what it is for", () => {
  const module = (path: string, facts: Partial<ModuleFacts> = {}): ModuleFacts => ({
    path,
    lines: 10,
    imports: [],
    callsDlopen: false,
    isLesson: false,
    sizeReason: false,
    longFunctions: [],
    ...facts,
  });
  const cases: [ModuleFacts[], string][] = [
    [[module("udp/core/x.ts", { callsDlopen: true })], "udp/core/x.ts: calls Deno.dlopen"],
    [
      [module("tcp/core/a.ts", { imports: ["tcp/b.ts"] }), module("tcp/b.ts", { isLesson: true })],
      "tcp/core/a.ts: imports the lesson tcp/b.ts",
    ],
    [
      [module("udp/a.ts", { isLesson: true, imports: ["tcp/linux/mmsg.ts"] })],
      "udp/a.ts: a lesson imports the Linux layer",
    ],
    [[module("tcp/core/a.ts", { imports: ["udp/b.ts"] })], "tcp/ imports udp/"],
    [[module("udp/a.ts", { imports: ["dns/b.ts"] })], "udp/ imports dns/"],
    [[module("dns/a.ts", { imports: ["http/b.ts"] })], "dns/ imports http/"],
    [
      [
        module("tcp/a.ts", { imports: ["udp/b.ts"] }),
        module("udp/b.ts", { imports: ["tcp/a.ts"] }),
      ],
      "folders import each other: tcp → udp → tcp",
    ],
    [[module("tcp/a.ts", { lines: 601 })], "tcp/a.ts: over 600 lines"],
    [
      [module("tcp/a.ts", { longFunctions: ["serve"] })],
      "tcp/a.ts: function serve over 150 lines",
    ],
  ];
  for (const [modules, expected] of cases) {
    const found = violations(modules);
    assert.ok(found.some((v) => v.includes(expected)), `${expected} in ${found}`);
  }
  // What is allowed: a reason in the header, tests importing lessons, imports down the stack.
  assert.deepEqual(
    violations([
      module("tcp/a.ts", { lines: 900, sizeReason: true, longFunctions: ["f"] }),
      module("tests/a_test.ts", { imports: ["tcp/b.ts", "tcp/linux/epoll.ts"], isLesson: false }),
      module("tcp/b.ts", { isLesson: true }),
      module("http/c.ts", { imports: ["dns/d.ts", "udp/e.ts", "tcp/core/f.ts"] }),
    ]),
    [],
  );
});
