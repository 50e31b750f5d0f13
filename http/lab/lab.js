/**
 * The lab page: lists the experiments, runs one (the Server-Sent Events of /run/<id>), and
 * redraws the diagram after every event with the same pure layout the tests use (diagram.js,
 * svg.js). Selecting an arrow or a note (click, or Enter on a focused one) shows its details and
 * the annotated bytes that came with it. Plain ES module, no build step, nothing from elsewhere.
 */
import { layoutDiagram } from "./diagram.js";
import { diagramSvg } from "./svg.js";

/** @typedef {{ id: string, title: string, summary: string, commands: string[], caveats: string[] }} Experiment */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

const state = {
  /** @type {Experiment[]} */
  experiments: [],
  /** @type {Experiment | null} */
  current: null,
  /** Events of the last run of each experiment, by id. @type {Map<string, { source: string, event: Record<string, unknown> }[]>} */
  runs: new Map(),
  /** The experiment running now (one at a time). @type {string | null} */
  running: null,
  /** @type {ReturnType<typeof layoutDiagram> | null} */
  model: null,
  /** @type {string | null} */
  selected: null,
  drawPending: false,
  /** Process output (stderr) of the current run. @type {string[]} */
  output: [],
};

async function init() {
  const response = await fetch("/experiments.json");
  state.experiments = await response.json();
  const list = $("experiments");
  for (const experiment of state.experiments) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = experiment.title;
    button.dataset.id = experiment.id;
    button.addEventListener("click", () => select(experiment.id));
    item.append(button);
    list.append(item);
  }
  $("run").addEventListener("click", () => run());
  $("copy-svg").addEventListener("click", () => copySvg());
  $("copy-command").addEventListener("click", () => copyCommand());
  const diagram = $("diagram");
  diagram.addEventListener("click", (event) => {
    const item = /** @type {Element} */ (event.target).closest("[data-item]");
    if (item) selectRow(item.getAttribute("data-item"), false);
  });
  diagram.addEventListener("keydown", onDiagramKey);
  addEventListener("resize", () => scheduleDraw());
  addEventListener("hashchange", () => select(location.hash.slice(1)));
  select(location.hash.slice(1));
}

/** Shows an experiment: its text, its commands, and its last run's diagram if any. */
function select(/** @type {string} */ id) {
  const experiment = state.experiments.find((e) => e.id === id) ?? state.experiments[0];
  if (!experiment) return;
  state.current = experiment;
  if (location.hash.slice(1) !== experiment.id) history.replaceState(null, "", `#${experiment.id}`);
  for (const button of document.querySelectorAll(".experiments button")) {
    button.setAttribute("aria-current", String(button.getAttribute("data-id") === experiment.id));
  }
  $("exp-title").textContent = experiment.title;
  $("exp-summary").textContent = experiment.summary;
  $("commands").textContent = experiment.commands.join("\n");
  const caveats = $("caveats");
  caveats.replaceChildren(...experiment.caveats.map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  }));
  $("copy-command").removeAttribute("disabled");
  state.selected = null;
  showDetail(null);
  updateButtons();
  draw();
}

function updateButtons() {
  const run = /** @type {HTMLButtonElement} */ ($("run"));
  run.disabled = state.running !== null;
  run.textContent = state.running === state.current?.id ? "Running…" : "Run";
  const events = state.current ? state.runs.get(state.current.id) : undefined;
  /** @type {HTMLButtonElement} */ ($("copy-svg")).disabled = !events?.length;
}

function setStatus(/** @type {string} */ text, failed = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("failed", failed);
}

/** Starts the current experiment and draws its events as they arrive. */
async function run() {
  const experiment = state.current;
  if (!experiment || state.running) return;
  state.running = experiment.id;
  state.runs.set(experiment.id, []);
  state.output = [];
  state.selected = null;
  showDetail(null);
  updateButtons();
  setStatus("starting…");
  draw();
  const started = performance.now();
  try {
    const response = await fetch(`/run/${encodeURIComponent(experiment.id)}`, {
      headers: { Accept: "text/event-stream" },
    });
    if (!response.ok || !response.body) {
      setStatus(`refused: ${(await response.text()).trim()}`, true);
      return;
    }
    for await (const message of readSse(response.body)) {
      onMessage(experiment.id, message, started);
    }
  } catch (error) {
    setStatus(`the lab stopped answering: ${error instanceof Error ? error.message : error}`, true);
  } finally {
    state.running = null;
    updateButtons();
    scheduleDraw();
  }
}

/** @param {string} id @param {{ type: string, data: Record<string, unknown> }} message @param {number} started */
function onMessage(id, message, started) {
  const events = state.runs.get(id) ?? [];
  switch (message.type) {
    case "start":
      setStatus("running…");
      break;
    case "line":
      events.push(message.data);
      if (events.length === 1) {
        document.body.dataset.firstEventMs = String(Math.round(performance.now() - started));
      }
      scheduleDraw();
      break;
    case "stderr":
    case "exit":
      state.output.push(
        message.type === "exit"
          ? `${message.data.source} exited with ${message.data.code}`
          : `${message.data.source}: ${message.data.text}`,
      );
      $("output-text").textContent = state.output.join("\n");
      if (message.type === "stderr") $("output").hidden = false;
      break;
    case "end": {
      const { ok, reason, ms } = message.data;
      setStatus(ok ? `done: ${events.length} events in ${ms} ms` : `stopped: ${reason}`, !ok);
      document.body.dataset.runEnded = id;
      break;
    }
  }
}

/**
 * The messages of a Server-Sent Events body: `{ type, data }` with `data` parsed as JSON.
 * @param {ReadableStream<Uint8Array>} body
 */
async function* readSse(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  while (true) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) type = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) yield { type, data: JSON.parse(data) };
    }
  }
}

function scheduleDraw() {
  if (state.drawPending) return;
  state.drawPending = true;
  requestAnimationFrame(() => {
    state.drawPending = false;
    draw();
  });
}

/** Lays the current experiment's events out again and redraws, keeping the focus. */
function draw() {
  const container = $("diagram");
  const events = state.current ? state.runs.get(state.current.id) : undefined;
  if (!events?.length) {
    state.model = null;
    container.replaceChildren();
    updateButtons();
    return;
  }
  const focused = document.activeElement?.getAttribute("data-item") ?? null;
  const width = Math.max(320, container.clientWidth - 2);
  state.model = layoutDiagram(events, { width });
  container.innerHTML = diagramSvg(state.model, { title: state.current?.title });
  const arrows = state.model.rows.filter((r) => r.kind === "arrow").length;
  container.dataset.arrows = String(arrows);
  if (state.selected) {
    container.querySelector(`[data-item="${state.selected}"]`)?.classList.add("selected");
  }
  if (focused) {
    /** @type {HTMLElement | null} */ (container.querySelector(`[data-item="${focused}"]`))
      ?.focus();
  }
  updateButtons();
}

/** Shows a row's details; with `focus`, also moves the keyboard focus to it. */
function selectRow(/** @type {string | null} */ id, focus = false) {
  if (!id || !state.model) return;
  state.selected = id;
  const container = $("diagram");
  for (const el of container.querySelectorAll(".selected")) el.classList.remove("selected");
  const el = /** @type {HTMLElement | null} */ (container.querySelector(`[data-item="${id}"]`));
  el?.classList.add("selected");
  if (focus) el?.focus();
  showDetail(state.model.rows.find((r) => r.id === id) ?? null);
}

/** @param {import("./diagram.js").Row | null} row */
function showDetail(row) {
  const title = $("detail-title");
  const meta = $("detail-meta");
  const text = $("detail-text");
  const explainTitle = $("explain-title");
  const explain = $("detail-explain");
  if (!row || (row.kind !== "arrow" && row.kind !== "note")) {
    title.textContent = "Details";
    meta.textContent = "Nothing selected yet.";
    text.textContent = "";
    explainTitle.hidden = true;
    explain.hidden = true;
    explain.textContent = "";
    return;
  }
  title.textContent = row.kind === "arrow" ? row.label : row.text;
  const when = row.time ? ` · at ${row.time}` : "";
  meta.textContent = `${row.tool} (${row.source}) · event #${row.event + 1} "${row.name}"${when}`;
  const marks = row.kind === "arrow" && row.marks.length ? `\n${row.marks.join(" · ")}` : "";
  text.textContent = `${row.detail}${marks}`;
  explainTitle.hidden = false;
  explain.hidden = false;
  explain.textContent = row.explain ?? "No bytes were reported for this step.";
}

/** Enter/Space selects; arrow keys (and j/k) move between arrows and notes. */
function onDiagramKey(/** @type {KeyboardEvent} */ event) {
  const target = /** @type {Element} */ (event.target);
  const id = target.getAttribute?.("data-item");
  if (!id) return;
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    selectRow(id, false);
    return;
  }
  const step = event.key === "ArrowDown" || event.key === "j"
    ? 1
    : event.key === "ArrowUp" || event.key === "k"
    ? -1
    : 0;
  if (!step) return;
  event.preventDefault();
  const items = [...$("diagram").querySelectorAll("[data-item]")];
  const next = items[items.indexOf(target) + step];
  if (next) selectRow(next.getAttribute("data-item"), true);
}

/** Puts `text` on the clipboard (or, where that is not allowed, selects it for Ctrl-C). */
async function copy(/** @type {string} */ text, /** @type {string} */ what) {
  const area = /** @type {HTMLTextAreaElement} */ ($("clipboard"));
  area.value = text;
  try {
    await navigator.clipboard.writeText(text);
    setStatus(`${what} copied (${text.length} characters)`);
  } catch {
    area.select();
    const copied = document.execCommand?.("copy");
    setStatus(copied ? `${what} copied` : `${what} selected: press Ctrl-C to copy`);
  }
}

function copySvg() {
  if (!state.model || !state.current) return;
  copy(diagramSvg(state.model, { title: state.current.title, interactive: false }), "SVG");
}

function copyCommand() {
  if (state.current) copy(state.current.commands.join("\n"), "Command");
}

init().catch((error) => setStatus(`cannot load the experiments: ${error}`, true));
