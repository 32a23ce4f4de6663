// The attention playground and the two small widgets of the story pages, drawn with
// plain DOM and SVG. All the math comes from attention.js and every number is written by
// format.js, as Python would print it. Each widget is an element with a
// data-attention-widget attribute ("playground", "softmax" or "scaling"); they are
// mounted on Material's document$, so that they also appear after instant navigation.

import { EXP_LIMIT, attention, attentionScores, naiveFailure, normalizeSum, softmax, softmaxNaive } from "./attention.js";
import { INPUTS, THEMES, TOKENS } from "./data.js";
import { PYTHON_SHOW, fixed, show } from "./format.js";

const MAX_TOKENS = 12;
const MAX_DIM = 8;
const LIMIT = 1e6; // the largest magnitude an entry may have
const EXAMPLE_QUERY = 1; // "journey", as on the story pages
const UNDERFLOW_LIMIT = Math.log(Number.MIN_VALUE); // about -744.4: below it e^x is 0

// Building elements -----------------------------------------------------------------

let lastId = 0;
const uid = (prefix) => `${prefix}-${++lastId}`;

/** An HTML element: h("td", { class: "x", text: "1" }, child, ...). */
function h(tag, props = {}, ...children) {
  return build(document.createElement(tag), props, children);
}

/** An SVG element, like h. */
function svg(tag, props = {}, ...children) {
  return build(document.createElementNS("http://www.w3.org/2000/svg", tag), props, children);
}

function build(element, props, children) {
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") element.textContent = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name === "vars") for (const [v, x] of Object.entries(value)) element.style.setProperty(v, x);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name === "className" ? "class" : name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

// Reading what the reader typed -----------------------------------------------------

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** { value } for a number in [-LIMIT, LIMIT], else { error } saying what is wrong. */
function parseEntry(text) {
  const entry = text.trim().replace(/\u2212/g, "-"); // a typographic minus is a minus
  if (entry === "") return { error: "Enter a number." };
  if (/^[+-]?\d*,\d+$/.test(entry)) return { error: "Use a point for decimals: 1.5, not 1,5." };
  if (!NUMBER.test(entry)) return { error: `“${entry}” is not a number.` };
  const value = Number(entry);
  if (!(Math.abs(value) <= LIMIT)) return { error: "Use a number from −1e6 to 1e6." };
  return { value: value === 0 ? 0 : value }; // -0 is 0 here
}

/**
 * A text field for a number with its message next to it: `onValue` gets each valid
 * value as it is typed; an invalid entry shows why and marks the field, and the widget
 * keeps its last valid number. Returns { wrapper, input, set(value) }.
 */
function numberField({ label, value, onValue, onValidity, className = "" }) {
  const messageId = uid("ar-message");
  const input = h("input", {
    type: "text",
    inputmode: "decimal",
    autocomplete: "off",
    spellcheck: "false",
    class: `ar-input ${className}`,
    "aria-label": label,
    "aria-describedby": messageId,
    value: displayEntry(value),
  });
  const message = h("span", { id: messageId, class: "ar-field-message", "aria-live": "polite" });
  input.addEventListener("input", () => {
    const { value: parsed, error } = parseEntry(input.value);
    message.textContent = error ?? "";
    input.toggleAttribute("aria-invalid", Boolean(error));
    onValidity?.(input, !error);
    if (!error) onValue(parsed);
  });
  const set = (x) => {
    input.value = displayEntry(x);
    message.textContent = "";
    input.removeAttribute("aria-invalid");
    onValidity?.(input, true);
  };
  return { wrapper: h("span", { class: "ar-field" }, input, message), input, set };
}

/** A number as a field shows it: as typed for short ones, else rounded to 4 decimals. */
function displayEntry(x) {
  const text = String(x);
  return text.length <= 8 ? text : show(x);
}

// Colours -----------------------------------------------------------------------

/** WCAG 2 relative luminance of "#rrggbb". */
function luminance(hex) {
  const channels = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const [r, g, b] = channels.map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** The WCAG contrast ratio of two "#rrggbb" colours, from 1 to 21. */
export function contrast(a, b) {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}

/**
 * CSS variables giving a heatmap cell its colour in each scheme, from the figures' colour
 * maps (Blues, viridis) as matplotlib maps a value, and black or white text, whichever
 * contrasts more: at least 4.58:1 against any colour.
 */
function cellColours(value, vmin, vmax) {
  const vars = {};
  for (const [scheme, theme] of Object.entries(THEMES)) {
    const t = vmax > vmin ? (value - vmin) / (vmax - vmin) : 0;
    const background = theme.colors[Math.min(255, Math.max(0, Math.floor(t * 256)))];
    const text = contrast(background, "#000000") >= contrast(background, "#ffffff") ? "#000000" : "#ffffff";
    vars[`--ar-cell-${scheme}`] = background;
    vars[`--ar-cell-text-${scheme}`] = text;
  }
  return vars;
}

// Shared displays -----------------------------------------------------------------

/**
 * A table with one row per token and one column per quantity; each cell shows a bar and
 * its number. columns: [{ title, quantity, values, domain: [lo, hi], colour, digits,
 * flag, total }]; a NaN is shown as "nan" on a hatched bar, a column with a `message`
 * (e.g. a division by 0) shows it instead of numbers.
 */
function barTable({ caption, labels, columns, highlight = -1, labelTitle = "token", totalTitle = "sum" }) {
  const head = h("tr", {}, h("th", { scope: "col", text: labelTitle }),
    columns.map((column) => h("th", { scope: "col" }, column.title, column.flag && h("span", { class: "ar-flag", text: column.flag }))));
  const rows = labels.map((label, i) =>
    h("tr", { class: i === highlight ? "ar-highlight" : null },
      h("th", { scope: "row", text: label }),
      columns.map((column) => (column.message ? (i === 0 ? messageCell(column, labels.length) : null) : barCell(column, i)))));
  const totals = columns.some((column) => column.total !== undefined)
    ? h("tfoot", {}, h("tr", {}, h("th", { scope: "row", text: totalTitle }),
        columns.map((column) => h("td", { class: "ar-total" },
          column.total === undefined || column.message ? "" : h("span", { class: "ar-number", dataset: { quantity: `${column.quantity}-sum` }, text: show(column.total, column.digits ?? 4) })))))
    : null;
  return h("table", { class: "ar-bars" }, h("caption", { text: caption }), h("thead", {}, head), h("tbody", {}, rows), totals);
}

function barCell(column, i) {
  const value = column.values[i];
  const [lo, hi] = column.domain;
  const position = (x) => (100 * (Math.min(hi, Math.max(lo, x)) - lo)) / (hi - lo || 1);
  const bar = Number.isNaN(value)
    ? h("span", { class: "ar-bar ar-bar-nan", vars: { "--ar-left": "0%", "--ar-width": "100%" } })
    : h("span", { class: "ar-bar", vars: {
        "--ar-left": `${Math.min(position(0), position(value))}%`,
        "--ar-width": `${Math.abs(position(value) - position(0))}%`,
        "--ar-bar-colour": column.colour,
      } });
  return h("td", {},
    h("span", { class: "ar-number", dataset: { quantity: column.quantity, row: i }, text: show(value, column.digits ?? 4) }),
    h("span", { class: "ar-bar-track", "aria-hidden": "true", vars: { "--ar-zero": `${position(0)}%` } }, bar));
}

function messageCell(column, span) {
  return h("td", { rowspan: span, class: "ar-cell-message", dataset: { quantity: column.quantity } }, column.message);
}

/** The weight matrix as a table of coloured cells, labelled with the tokens. */
function heatmap({ caption, labels, weights, allowed, highlight, failedRows }) {
  const mask = allowed.flat();
  const finite = weights.flat().filter((w, k) => Number.isFinite(w) && mask[k]);
  const vmin = Math.min(0, ...finite);
  const vmax = Math.max(vmin, ...finite);
  const head = h("tr", {}, h("td", { class: "ar-corner" }),
    labels.map((label) => h("th", { scope: "col" }, h("span", { text: label }))));
  const rows = weights.map((row, i) =>
    h("tr", { class: i === highlight ? "ar-highlight" : null },
      h("th", { scope: "row", text: labels[i] }),
      row.map((w, j) => {
        const data = { quantity: "weights", row: i, col: j };
        if (!allowed[i][j]) return h("td", { class: "ar-cell-masked", "aria-label": "masked" });
        if (failedRows?.has(i)) return h("td", { class: "ar-cell-nan", dataset: data, text: show(w, 2) });
        return h("td", { dataset: data, vars: cellColours(w, vmin, vmax), text: show(w, 2) });
      })));
  const scale = h("p", { class: "ar-note" },
    `Colour from ${fixed(vmin, 2)} (`, h("span", { class: "ar-swatch", vars: cellColours(vmin, vmin, vmax) }),
    `) to the largest weight, ${fixed(vmax, 2)} (`, h("span", { class: "ar-swatch", vars: cellColours(vmax, vmin, vmax) }), ").");
  return [h("div", { class: "ar-scroll" }, h("table", { class: "ar-heatmap" }, h("caption", { text: caption }), h("thead", {}, head), h("tbody", {}, rows))), scale];
}

/** Tokens as points in two of their dimensions, with the query's context vector among them. */
function scatter({ labels, inputs, axes, query, context, weights }) {
  const [a, b] = axes;
  const points = inputs.map((x) => [x[a], b === null ? 0 : x[b]]);
  const z = [context[a], b === null ? 0 : context[b]];
  const shown = Number.isFinite(z[0]) && Number.isFinite(z[1]) ? [...points, z] : points;
  const [xs, ys] = [shown.map((p) => p[0]), shown.map((p) => p[1])];
  const width = 320, height = 240, margin = { left: 44, right: 16, top: 12, bottom: 34 };
  const x = linearScale(xs, [margin.left, width - margin.right]);
  const y = linearScale(ys, [height - margin.bottom, margin.top]);
  const axisName = (k) => (k === null ? "" : `dimension ${k + 1}`);
  const children = [
    ...x.ticks.map((t) => svg("g", { class: "ar-tick" },
      svg("line", { x1: x(t), x2: x(t), y1: margin.top, y2: height - margin.bottom }),
      svg("text", { x: x(t), y: height - margin.bottom + 14, "text-anchor": "middle", text: x.label(t) }))),
    ...(b === null ? [] : y.ticks.map((t) => svg("g", { class: "ar-tick" },
      svg("line", { x1: margin.left, x2: width - margin.right, y1: y(t), y2: y(t) }),
      svg("text", { x: margin.left - 6, y: y(t) + 4, "text-anchor": "end", text: y.label(t) })))),
    svg("text", { class: "ar-axis-name", x: (margin.left + width - margin.right) / 2, y: height - 4, "text-anchor": "middle", text: axisName(a) }),
    svg("text", { class: "ar-axis-name", x: 12, y: (margin.top + height - margin.bottom) / 2, "text-anchor": "middle",
      transform: `rotate(-90 12 ${(margin.top + height - margin.bottom) / 2})`, text: axisName(b) }),
  ];
  const placed = [];
  const label = (text, px, py, className) => {
    const box = placeLabel(text, px, py, placed, width, height);
    return svg("text", { class: className, x: box.x, y: box.y, "text-anchor": box.anchor, text });
  };
  if (shown.length > points.length) {
    points.forEach((p, j) => children.push(svg("line", {
      class: "ar-pull", x1: x(z[0]), y1: y(z[1]), x2: x(p[0]), y2: y(p[1]),
      "stroke-width": 0.5 + 4 * Math.min(1, Math.abs(weights[j])),
    })));
  }
  points.forEach((p, j) => {
    children.push(svg("circle", { class: j === query ? "ar-point ar-point-query" : "ar-point", cx: x(p[0]), cy: y(p[1]), r: j === query ? 5 : 4 }));
  });
  points.forEach((p, j) => children.push(label(labels[j], x(p[0]), y(p[1]), j === query ? "ar-label ar-label-query" : "ar-label")));
  if (shown.length > points.length) {
    const [cx, cy] = [x(z[0]), y(z[1])];
    children.push(svg("path", { class: "ar-context", d: `M${cx} ${cy - 7}L${cx + 7} ${cy}L${cx} ${cy + 7}L${cx - 7} ${cy}Z` }));
    children.push(label(`context of ${labels[query]}`, cx, cy, "ar-label ar-label-context"));
  }
  const title = `Tokens in ${b === null ? "dimension 1" : `dimensions ${a + 1} and ${b + 1}`}, with the context vector of ${labels[query]}`;
  return svg("svg", { class: "ar-scatter", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title }, svg("title", { text: title }), ...children);
}

/** Maps [min, max] of `values` (padded) onto `range`, with round ticks and their labels. */
function linearScale(values, [start, end]) {
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) [lo, hi] = [lo - 1, hi + 1];
  const pad = 0.08 * (hi - lo);
  [lo, hi] = [lo - pad, hi + pad];
  const { step, decimals } = niceStep((hi - lo) / 4);
  const ticks = [];
  for (let n = Math.ceil(lo / step); n * step <= hi; n++) ticks.push(n * step);
  const scale = (v) => start + ((v - lo) / (hi - lo)) * (end - start);
  scale.ticks = ticks;
  scale.label = (t) => (Math.abs(t) >= 1e5 ? t.toExponential(1) : t.toFixed(decimals));
  return scale;
}

/** A round step near `rough` (1, 2, 2.5 or 5 times a power of 10) and its decimals. */
function niceStep(rough) {
  const exponent = Math.floor(Math.log10(rough));
  const multiple = [1, 2, 2.5, 5, 10].find((m) => m * 10 ** exponent >= rough) ?? 10;
  const decimals = Math.max(0, -exponent + (multiple === 2.5 ? 1 : 0) - (multiple === 10 ? 1 : 0));
  return { step: multiple * 10 ** exponent, decimals };
}

/** A label position next to (px, py) that overlaps no label placed before it. */
function placeLabel(text, px, py, placed, width, height) {
  const w = 6.2 * text.length + 4, lineHeight = 13;
  const candidates = [
    { x: px + 8, y: py + 4, anchor: "start", left: px + 8 },
    { x: px - 8, y: py + 4, anchor: "end", left: px - 8 - w },
    { x: px + 8, y: py - 9, anchor: "start", left: px + 8 },
    { x: px + 8, y: py + 17, anchor: "start", left: px + 8 },
    { x: px - 8, y: py - 9, anchor: "end", left: px - 8 - w },
    { x: px - 8, y: py + 17, anchor: "end", left: px - 8 - w },
  ];
  const fits = (c) => c.left >= 0 && c.left + w <= width && c.y - lineHeight >= 0 && c.y <= height;
  const free = (c) => placed.every((p) => c.left + w <= p.left || p.left + p.w <= c.left || c.y <= p.y - lineHeight || p.y <= c.y - lineHeight);
  const choice = candidates.find((c) => fits(c) && free(c)) ?? candidates.find(fits) ?? candidates[0];
  placed.push({ ...choice, w });
  return choice;
}

/** The Python literal of a number: the shortest repr, as Python's own. */
const pyNumber = (x) => (Number.isInteger(x) ? `${x}.0` : String(x).replace(/e([+-])(\d)$/, "e$10$2"));

// The playground --------------------------------------------------------------------

const NORMALIZATIONS = [
  ["softmax", "stable softmax", "softmax: subtract the largest score, then e^x / sum"],
  ["naive", "naive softmax", "the textbook e^x / sum, which overflows"],
  ["sum", "divide by the sum", "normalize_sum: x / sum, which can go negative"],
];

/** T from the temperature slider's position: 1/20 to 5 in steps of 1/20, exact decimals. */
const temperatureOf = (step) => step / 20;

function exampleState() {
  return {
    tokens: TOKENS.map((name, i) => ({ name, values: [...INPUTS[i]] })),
    dim: INPUTS[0].length,
    query: EXAMPLE_QUERY,
    normalize: "softmax",
    scaleMode: "one",
    temperatureStep: 20,
    causal: false,
    axes: [0, 1],
  };
}

function scaleOf(state) {
  if (state.scaleMode === "sqrt") return 1 / Math.sqrt(state.dim);
  if (state.scaleMode === "temperature") return 1 / temperatureOf(state.temperatureStep);
  return 1;
}

function mountPlayground(root) {
  const state = exampleState();
  const invalid = new Set(); // the fields whose entry is not (yet) a number
  const nameErrors = new Set();
  root.replaceChildren();
  const editor = h("div", { class: "ar-editor" });
  const querySelect = h("select", { id: uid("ar-query"), class: "ar-select" });
  const dimSelect = h("select", { id: uid("ar-dim"), class: "ar-select" },
    Array.from({ length: MAX_DIM }, (_, k) => h("option", { value: k + 1, text: k + 1 })));
  const addButton = h("button", { type: "button", class: "ar-button", text: "Add a token" });
  const resetButton = h("button", { type: "button", class: "ar-button", text: "Reset to the example" });
  const status = h("p", { class: "ar-status", role: "status" });
  const results = {
    bars: h("figure", { class: "ar-panel" }),
    heatmap: h("figure", { class: "ar-panel" }),
    context: h("figure", { class: "ar-panel" }),
    scatter: h("figure", { class: "ar-panel" }),
  };

  // Normalisation, scale and mask ---------------------------------------------------
  const radios = (name, options, current, onChange) => {
    const group = uid(`ar-${name}`);
    return options.map(([value, label, hint]) => {
      const id = uid(`ar-${name}`);
      return h("div", { class: "ar-choice" },
        h("input", { type: "radio", name: group, id, value, checked: value === current, onchange: () => onChange(value) }),
        h("label", { for: id }, label, hint && h("span", { class: "ar-hint", text: ` (${hint})` })));
    });
  };
  const normalizeChoices = radios("normalize", NORMALIZATIONS, state.normalize, (value) => { state.normalize = value; update(); });
  const sqrtLabel = h("span");
  const scaleChoices = radios("scale", [
    ["one", "1", "the story: plain dot products"],
    ["sqrt", "1/√D", null],
    ["temperature", "1/T", "a temperature T, set below"],
  ], state.scaleMode, (value) => { state.scaleMode = value; update(); });
  scaleChoices[1].querySelector("label").append(sqrtLabel);
  const temperatureId = uid("ar-temperature");
  const temperatureOutput = h("output", { for: temperatureId, class: "ar-output" });
  const temperature = h("input", {
    type: "range", id: temperatureId, min: 1, max: 100, step: 1, value: state.temperatureStep, class: "ar-range",
    oninput: () => {
      state.temperatureStep = Number(temperature.value);
      state.scaleMode = "temperature"; // moving T means using it
      scaleChoices[2].querySelector("input").checked = true;
      update();
    },
  });
  const causalId = uid("ar-causal");
  const causal = h("input", { type: "checkbox", id: causalId, onchange: () => { state.causal = causal.checked; update(); } });

  root.append(
    h("fieldset", { class: "ar-group" }, h("legend", { text: "Tokens and their embeddings" }),
      editor,
      h("div", { class: "ar-row" }, addButton,
        h("label", { for: dimSelect.id, class: "ar-inline" }, "Dimensions D ", dimSelect),
        resetButton)),
    h("fieldset", { class: "ar-group" }, h("legend", { text: "Attention" }),
      h("div", { class: "ar-row" }, h("label", { for: querySelect.id, class: "ar-inline" }, "Query ", querySelect),
        h("span", { class: "ar-choice" }, causal, h("label", { for: causalId }, "Causal mask", h("span", { class: "ar-hint", text: " (each token sees itself and the tokens before it)" })))),
      h("fieldset", { class: "ar-subgroup" }, h("legend", { text: "Weights from scores" }), normalizeChoices),
      h("fieldset", { class: "ar-subgroup" }, h("legend", { text: "Scale the scores by" }), scaleChoices,
        h("div", { class: "ar-row ar-slider" }, h("label", { for: temperatureId, text: "Temperature T" }), temperature, temperatureOutput))),
    status,
    h("div", { class: "ar-results" }, Object.values(results)),
    pythonPanel(() => pythonSnippet(state)),
  );

  // The token editor: rebuilt when tokens or dimensions are added or removed ----------
  function renderEditor(focus) {
    invalid.clear();
    nameErrors.clear();
    const header = h("tr", {}, h("th", { scope: "col", text: "token" }),
      Array.from({ length: state.dim }, (_, k) => h("th", { scope: "col", text: `d${k + 1}` })),
      h("th", { scope: "col" }, h("span", { class: "ar-sr", text: "remove" })));
    const rows = state.tokens.map((token, i) => {
      const name = h("input", {
        type: "text", class: "ar-input ar-name", value: token.name, maxlength: 16, autocomplete: "off", spellcheck: "false",
        "aria-label": `Token ${i + 1}, name`, "aria-describedby": uid("ar-message"),
      });
      const nameMessage = h("span", { id: name.getAttribute("aria-describedby"), class: "ar-field-message", "aria-live": "polite" });
      name.addEventListener("input", () => {
        const error = name.value.trim() ? "" : "Name the token.";
        nameMessage.textContent = error;
        name.toggleAttribute("aria-invalid", Boolean(error));
        if (error) nameErrors.add(i); else nameErrors.delete(i);
        if (!error) {
          token.name = name.value.trim();
          cells.forEach((cell, k) => cell.input.setAttribute("aria-label", `${token.name}, dimension ${k + 1}`));
          remove.setAttribute("aria-label", `Remove ${token.name}`);
          remove.title = `Remove ${token.name}`;
        }
        update();
      });
      const cells = token.values.map((value, k) => numberField({
        label: `${token.name}, dimension ${k + 1}`,
        value,
        className: "ar-entry",
        onValue: (x) => { token.values[k] = x; update(); },
        onValidity: (input, ok) => { if (ok) invalid.delete(input); else { invalid.add(input); update(); } },
      }));
      const remove = h("button", {
        type: "button", class: "ar-button ar-remove", "aria-label": `Remove ${token.name}`, title: `Remove ${token.name}`,
        disabled: state.tokens.length === 1, text: "×",
        onclick: () => {
          state.tokens.splice(i, 1);
          if (state.query >= state.tokens.length || state.query > i) state.query = Math.max(0, state.query - 1);
          renderEditor({ row: Math.min(i, state.tokens.length - 1), remove: true });
        },
      });
      return h("tr", { dataset: { token: i } }, h("td", {}, h("span", { class: "ar-field" }, name, nameMessage)),
        cells.map((cell) => h("td", {}, cell.wrapper)), h("td", {}, remove));
    });
    editor.replaceChildren(h("div", { class: "ar-scroll" },
      h("table", { class: "ar-embeddings" }, h("caption", { class: "ar-sr", text: "Tokens and embeddings" }), h("thead", {}, header), h("tbody", {}, rows))));
    addButton.disabled = state.tokens.length >= MAX_TOKENS;
    dimSelect.value = String(state.dim);
    if (focus?.remove) (editor.querySelectorAll(".ar-remove")[focus.row] ?? addButton).focus();
    else if (focus?.name) editor.querySelectorAll(".ar-name")[focus.row]?.focus();
    if (focus && editor.querySelectorAll(".ar-remove")[focus.row]?.disabled) addButton.focus();
    update();
  }

  addButton.addEventListener("click", () => {
    if (state.tokens.length >= MAX_TOKENS) return;
    const used = new Set(state.tokens.map((t) => t.name));
    let n = state.tokens.length + 1;
    while (used.has(`token${n}`)) n++;
    state.tokens.push({ name: `token${n}`, values: Array(state.dim).fill(0.5) });
    renderEditor({ row: state.tokens.length - 1, name: true });
  });
  dimSelect.addEventListener("change", () => {
    const dim = Number(dimSelect.value);
    for (const token of state.tokens) token.values = Array.from({ length: dim }, (_, k) => token.values[k] ?? 0);
    state.dim = dim;
    state.axes = dim === 1 ? [0, null] : state.axes.map((k, n) => (k !== null && k < dim ? k : n));
    renderEditor();
    dimSelect.focus();
  });
  resetButton.addEventListener("click", () => {
    Object.assign(state, exampleState());
    root.querySelectorAll("input[type=radio]").forEach((radio) => { radio.checked = radio.value === state.normalize || radio.value === state.scaleMode; });
    causal.checked = false;
    temperature.value = state.temperatureStep;
    renderEditor();
  });
  querySelect.addEventListener("change", () => { state.query = Number(querySelect.value); update(); });

  // Results ---------------------------------------------------------------------------
  function update() {
    const labels = state.tokens.map((t) => t.name);
    querySelect.replaceChildren(...labels.map((label, i) => h("option", { value: i, text: label, selected: i === state.query })));
    const scale = scaleOf(state);
    sqrtLabel.textContent = ` = ${show(1 / Math.sqrt(state.dim))}`;
    temperatureOutput.textContent = `T = ${fixed(temperatureOf(state.temperatureStep), 2)}`;
    temperature.setAttribute("aria-valuetext", temperatureOutput.textContent);

    const inputs = state.tokens.map((t) => t.values);
    const problems = [];
    if (invalid.size) problems.push(`${invalid.size === 1 ? "One entry needs" : `${invalid.size} entries need`} fixing (see the message next to it); the results use the last valid numbers.`);
    if (nameErrors.size) problems.push("Every token needs a name.");
    let result, sumError = null;
    try {
      result = attention({ query: inputs, key: inputs, value: inputs, scale, causal: state.causal, normalize: state.normalize });
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      sumError = error.cause?.query ?? 0; // normalize_sum: a row sums to 0
      result = attention({ query: inputs, key: inputs, value: inputs, scale, causal: state.causal });
    }
    const { scores, allowed } = result;
    const q = state.query;
    const name = labels[q];
    const failures = new Map(); // naive softmax: row -> overflow or underflow
    if (state.normalize === "naive") {
      scores.forEach((row, i) => {
        const failure = naiveFailure(row.map((s, j) => (allowed[i][j] ? s : -Infinity)));
        if (failure) failures.set(i, failure);
      });
    }
    const weightsMessage = sumError === null ? null
      : `undefined: the scores of ${labels[sumError]} sum to 0, and dividing by 0 is undefined (normalize_sum raises an error; softmax has no such problem)`;

    // The query's scores and weights as bars
    const weightRow = result.weights[q];
    const lowest = Math.min(0, ...weightRow.filter(Number.isFinite));
    const highest = Math.max(1, ...weightRow.filter(Number.isFinite));
    const shownScores = scores[q].map((s, j) => (allowed[q][j] ? s : NaN));
    const failure = failures.get(q);
    results.bars.replaceChildren(
      barTable({
        caption: `Scores and weights of ${name}`,
        labels,
        highlight: q,
        columns: [
          { title: "score", quantity: "query-scores", values: scores[q], colour: "var(--ar-series-0)",
            domain: [Math.min(0, ...scores[q]), Math.max(0, ...scores[q])] },
          { title: "weight", quantity: "query-weights", values: weightRow, colour: "var(--ar-accent)", domain: [lowest, highest],
            total: weightRow.reduce((a, b) => a + b, 0), message: weightsMessage,
            flag: failure?.kind },
        ],
      }),
      h("figcaption", {}, barsCaption({ state, name, scale, failure, scores: shownScores, labels, masked: allowed[q].includes(false) })),
    );

    // The weight matrix
    results.heatmap.replaceChildren(
      ...(weightsMessage
        ? [h("p", { class: "ar-cell-message", dataset: { quantity: "weights" }, text: `Weights ${weightsMessage}.` })]
        : heatmap({ caption: "Weights of every query (rows) over every token (columns)", labels, weights: result.weights, allowed, highlight: q, failedRows: new Set(failures.keys()) })),
      h("figcaption", {}, failures.size
        ? `Rows with nan: naive softmax ${[...new Set([...failures.values()].map((f) => f.kind))].join(" and ")} (${[...failures.keys()].map((i) => labels[i]).join(", ")}).`
        : "Each row sums to 1 and is one query's weights; the highlighted row is the query's."),
    );

    // Context vectors
    const dims = Array.from({ length: state.dim }, (_, k) => `d${k + 1}`);
    results.context.replaceChildren(
      weightsMessage
        ? h("p", { class: "ar-cell-message", dataset: { quantity: "context" }, text: `Context vectors ${weightsMessage}.` })
        : h("div", { class: "ar-scroll" }, h("table", { class: "ar-matrix" },
            h("caption", { text: "Context vectors: each token's weighted mix of all inputs" }),
            h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "token" }), dims.map((d) => h("th", { scope: "col", text: d })))),
            h("tbody", {}, result.context.map((row, i) => h("tr", { class: i === q ? "ar-highlight" : null },
              h("th", { scope: "row", text: labels[i] }),
              row.map((x, k) => h("td", {}, h("span", { class: "ar-number", dataset: { quantity: "context", row: i, col: k }, text: show(x) })))))))),
      h("figcaption", { text: `The highlighted row is z, the context vector of ${name}: the inputs weighted by ${name}'s weights and added.` }),
    );

    // The 2-D view
    const context = weightsMessage ? [] : result.context[q];
    const missing = !context.length || context.some((x) => !Number.isFinite(x));
    results.scatter.replaceChildren(
      scatter({ labels, inputs, axes: state.axes, query: q, context, weights: weightsMessage ? [] : weightRow }),
      missing && h("p", { class: "ar-note ar-warning", text: `The context vector of ${name} cannot be drawn: it is ${weightsMessage ? "undefined" : "nan"}.` }),
      axisControls(),
      h("figcaption", { text: state.normalize === "sum"
        ? "Lines join the context vector to each token, thicker for larger weights. Negative weights can push it outside the tokens' span."
        : "Lines join the context vector to each token, thicker for larger weights. With weights that are positive and sum to 1, it always lies among the tokens." }),
    );
    status.textContent = problems.join(" ");
    status.hidden = problems.length === 0;
  }

  function axisControls() {
    if (state.dim < 3) return h("p", { class: "ar-note", text: state.dim === 1 ? "D = 1: the tokens lie on a line." : "" });
    const select = (n) => {
      const id = uid("ar-axis");
      const element = h("select", { id, class: "ar-select", onchange: () => {
        const chosen = Number(element.value);
        state.axes[n] = chosen;
        if (state.axes[1 - n] === chosen) state.axes[1 - n] = (chosen + 1) % state.dim;
        update();
        root.querySelector(`#${CSS.escape(id)}`)?.focus() ?? results.scatter.querySelectorAll("select")[n]?.focus();
      } }, Array.from({ length: state.dim }, (_, k) => h("option", { value: k, text: `dimension ${k + 1}`, selected: k === state.axes[n] })));
      return h("label", { for: id, class: "ar-inline" }, n === 0 ? "Across " : "Up ", element);
    };
    return h("div", { class: "ar-row" }, select(0), select(1));
  }

  renderEditor();
}

function barsCaption({ state, name, scale, failure, scores, labels, masked }) {
  if (failure?.kind === "overflow") {
    const which = failure.entries.map((j) => `${labels[j]} ${show(scores[j])}`).join(", ");
    return h("span", { class: "ar-warning" },
      h("strong", { text: "Overflow. " }),
      `e^x is inf for a score above ${fixed(EXP_LIMIT, 2)} in float64 (here ${which}), so the sum is inf: inf / inf is nan, and any other e^x / inf is 0. Stable softmax subtracts the largest score first and gets the right weights.`);
  }
  if (failure?.kind === "underflow") {
    return h("span", { class: "ar-warning" },
      h("strong", { text: "Underflow. " }),
      `every e^x is 0 for scores below ${fixed(UNDERFLOW_LIMIT, 2)}, so the sum is 0 and 0 / 0 is nan. Stable softmax subtracts the largest score first and gets the right weights.`);
  }
  const scaled = scale === 1 ? "" : ` times the scale ${show(scale)}`;
  const causal = masked ? " Masked tokens come after the query: they get weight 0." : "";
  return `Each score is the dot product of ${name} with a token${scaled}; the weights turn them into shares that sum to 1.${causal}`;
}

/** The snippet "Copy as Python" gives: the displayed numbers, from attention_ref. */
function pythonSnippet(state) {
  const n = state.tokens.length;
  const names = state.tokens.map((t) => JSON.stringify(t.name));
  const width = Math.max(...names.map((s) => s.length));
  const rows = state.tokens.map((t, i) => `    [${t.values.map(pyNumber).join(", ")}],  # ${names[i]}`);
  const functions = { softmax: "softmax", naive: "softmax_naive", sum: "normalize_sum" }[state.normalize];
  const imports = ["attention_scores", state.causal ? "causal_mask" : null, functions].filter(Boolean).sort();
  const scale = {
    one: "1.0  # the story's plain dot products",
    sqrt: `1 / np.sqrt(${state.dim})  # 1/sqrt(D)`,
    temperature: `1 / ${pyNumber(temperatureOf(state.temperatureStep))}  # 1/T`,
  }[state.scaleMode];
  const lines = [
    "import numpy as np",
    `from attention_ref import ${imports.join(", ")}`,
    "",
    `tokens = [${names.join(", ")}]`,
    `inputs = np.array([  # (${n}, ${state.dim}): one embedding per token`,
    ...rows,
    "])",
    `query = ${state.query}  # ${names[state.query]}`,
    `scale = ${scale}`,
    `scores = scale * attention_scores(inputs)  # (${n}, ${n}): row i holds query i's scores`,
  ];
  if (state.causal) {
    lines.push(`may_attend = causal_mask(${n})  # (${n}, ${n}): token i sees tokens 0..i`);
  }
  if (state.normalize === "sum") {
    lines.push(state.causal
      ? "weights = normalize_sum(np.where(may_attend, scores, 0.0))  # masked: score 0"
      : "weights = normalize_sum(scores)  # each row divided by its sum");
  } else {
    const masked = state.causal ? "np.where(may_attend, scores, -np.inf)" : "scores";
    const call = `weights = ${functions}(${masked})`;
    if (state.normalize === "naive") {
      lines.push('with np.errstate(over="ignore", invalid="ignore"):  # it may overflow: nan');
      lines.push(`    ${call}`, "");
    } else {
      lines.push(`${call}  # (${n}, ${n}): each row sums to 1`);
    }
  }
  lines.push(
    `context = weights @ inputs  # (${n}, ${state.dim}): one context vector per token`,
    "",
    "",
    PYTHON_SHOW,
    "",
    "",
    'print(f"scores of {tokens[query]}:", *map(show, scores[query]))',
    'print(f"weights of {tokens[query]}:", *map(show, weights[query]))',
    'print(f"sum of the weights: {show(weights[query].sum())}")',
    'print("weights of every query:")',
    "for token, row in zip(tokens, weights):",
    `    print(f"  {token:>${width - 2}}:", *(show(w, 2) for w in row))`,
    "",
    'print("context vectors:")',
    "for token, row in zip(tokens, context):",
    `    print(f"  {token:>${width - 2}}:", *map(show, row))`,
    "", // a blank line ends the loop at a Python prompt
    "",
  );
  return lines.join("\n");
}

/** "Copy as Python", with the snippet itself under a disclosure. */
function pythonPanel(snippet) {
  const code = h("code", { class: "language-python" });
  const details = h("details", { class: "ar-details" }, h("summary", { text: "Show the Python" }), h("pre", {}, code));
  const feedback = h("span", { class: "ar-copied", role: "status" });
  const button = h("button", { type: "button", class: "ar-button ar-copy", text: "Copy as Python" });
  const refresh = () => { code.textContent = snippet(); };
  details.addEventListener("toggle", refresh);
  button.addEventListener("click", async () => {
    refresh();
    try {
      await navigator.clipboard.writeText(code.textContent);
      feedback.textContent = "Copied: paste it into Python to get the numbers above.";
    } catch {
      details.open = true;
      feedback.textContent = "Could not copy: select the code below and copy it.";
    }
  });
  return h("div", { class: "ar-python" }, h("div", { class: "ar-row" }, button, feedback), details);
}

// Step 2: three normalisations side by side -------------------------------------------

function mountSoftmax(root) {
  const base = attentionScores([INPUTS[EXAMPLE_QUERY]], INPUTS)[0]; // journey's scores
  const scores = [...base];
  let shift = 0;
  root.replaceChildren();
  const output = h("figure", { class: "ar-panel" });
  const fields = [];
  const sliders = [];
  const rows = TOKENS.map((token, j) => {
    const sliderId = uid("ar-score");
    const slider = h("input", { type: "range", id: sliderId, min: -5, max: 5, step: 0.01, value: scores[j], class: "ar-range",
      "aria-label": `Drag the score of ${token}`, oninput: () => { scores[j] = Number(slider.value); fields[j].set(scores[j]); render(); } });
    const field = numberField({ label: `Score of ${token}`, value: fixed(scores[j], 4), className: "ar-entry",
      onValue: (x) => { scores[j] = x; slider.value = x; render(); } });
    field.input.value = fixed(scores[j], 4);
    fields.push(field);
    sliders.push(slider);
    return h("tr", {}, h("th", { scope: "row", text: token }), h("td", {}, field.wrapper), h("td", { class: "ar-slider-cell" }, slider));
  });
  const shiftId = uid("ar-shift");
  const shiftSlider = h("input", { type: "range", id: shiftId, min: -1000, max: 1000, step: 10, value: 0, class: "ar-range",
    oninput: () => { shift = Number(shiftSlider.value); shiftField.set(shift); render(); } });
  const shiftField = numberField({ label: "Added to every score", value: 0, className: "ar-entry",
    onValue: (x) => { shift = x; shiftSlider.value = x; render(); } });
  const reset = h("button", { type: "button", class: "ar-button", text: "Reset", onclick: () => {
    base.forEach((s, j) => { scores[j] = s; sliders[j].value = s; fields[j].set(s); fields[j].input.value = fixed(s, 4); });
    shift = 0; shiftSlider.value = 0; shiftField.set(0);
    render();
  } });
  root.append(
    h("fieldset", { class: "ar-group" }, h("legend", { text: "Scores of journey: type or drag" }),
      h("div", { class: "ar-scroll" }, h("table", { class: "ar-embeddings ar-score-editor" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "token" }), h("th", { scope: "col", text: "score" }), h("th", { scope: "col" }, h("span", { class: "ar-sr", text: "slider" })))),
        h("tbody", {}, rows))),
      h("div", { class: "ar-row ar-slider" }, h("label", { for: shiftId, text: "Add to every score" }), shiftSlider, shiftField.wrapper, reset)),
    output,
  );

  function render() {
    const shifted = scores.map((s) => s + shift);
    const failure = naiveFailure(shifted);
    let sum = null, sumMessage = null;
    try {
      sum = normalizeSum(shifted);
    } catch {
      sumMessage = "undefined: the scores sum to 0";
    }
    const stable = softmax(shifted);
    const naive = softmaxNaive(shifted);
    const weightDomain = [Math.min(0, ...(sum ?? [0])), Math.max(1, ...(sum ?? [1]))];
    const total = (w) => w.reduce((a, b) => a + b, 0);
    output.replaceChildren(
      barTable({
        caption: shift === 0 ? "Weights from the scores of journey" : `Weights from the scores of journey ${shift > 0 ? "+" : "−"} ${show(Math.abs(shift))}`,
        labels: TOKENS,
        highlight: EXAMPLE_QUERY,
        columns: [
          { title: "stable softmax", quantity: "stable", values: stable, colour: "var(--ar-accent)", domain: weightDomain, total: total(stable) },
          { title: "naive softmax", quantity: "naive", values: naive, colour: "var(--ar-series-2)", domain: weightDomain, total: total(naive), flag: failure?.kind },
          { title: "divide by the sum", quantity: "sum", values: sum ?? [], colour: "var(--ar-series-0)", domain: weightDomain, total: sum ? total(sum) : undefined, message: sumMessage },
        ],
      }),
      h("figcaption", {}, failure ? barsCaption({ failure, scores: shifted, labels: TOKENS })
        : "Shift every score with the slider: stable softmax does not move, division by the sum does, and past 709.78 the naive formula overflows."),
    );
  }
  render();
}

// Why divide by sqrt(d_k): weights with and without scaling ---------------------------

let scalingDraw = null;
const loadScalingDraw = () => (scalingDraw ??= fetch(new URL("./scaling-draw.json", import.meta.url)).then((response) => {
  if (!response.ok) throw new Error(`scaling-draw.json: HTTP ${response.status}`);
  return response.json();
}));

const entropy = (weights) => -weights.reduce((sum, w) => sum + (w > 0 ? w * Math.log(w) : 0), 0);

function mountScaling(root) {
  root.replaceChildren(h("p", { class: "ar-note", text: "Loading the random query and keys…" }));
  loadScalingDraw().then((draw) => {
    const labels = draw.keys.map((_, j) => `key ${j + 1}`);
    const sliderId = uid("ar-dk");
    const dimOf = (position) => 2 ** position;
    const output = h("output", { for: sliderId, class: "ar-output" });
    const slider = h("input", { type: "range", id: sliderId, min: 0, max: Math.log2(draw.query.length), step: 1, value: 6, class: "ar-range", oninput: () => render() });
    const result = h("figure", { class: "ar-panel" });
    root.replaceChildren(
      h("div", { class: "ar-row ar-slider" }, h("label", { for: sliderId, text: "d_k, the length of the query and keys" }), slider, output),
      result,
      h("p", { class: "ar-note" }, "One random query and six keys, with unit-variance entries: ", h("code", { text: draw.source }), "; the widget uses their first d_k entries."),
    );
    function render() {
      const dim = dimOf(Number(slider.value));
      output.textContent = `d_k = ${dim}`;
      slider.setAttribute("aria-valuetext", output.textContent);
      const query = [draw.query.slice(0, dim)];
      const keys = draw.keys.map((key) => key.slice(0, dim));
      const scores = attentionScores(query, keys)[0];
      const unscaled = softmax(scores);
      const scaled = softmax(attentionScores(query, keys, 1 / Math.sqrt(dim))[0]);
      const spread = Math.max(...scores.map(Math.abs));
      const weights = [0, 1];
      result.replaceChildren(
        barTable({
          caption: `Softmax of one query's scores against six keys, d_k = ${dim}`,
          labels,
          labelTitle: "key",
          totalTitle: "largest",
          columns: [
            { title: "score q·k", quantity: "scaling-scores", values: scores, colour: "var(--ar-series-0)", domain: [-spread, spread], digits: 2 },
            { title: "weight, unscaled", quantity: "unscaled", values: unscaled, colour: "var(--ar-accent)", domain: weights, total: Math.max(...unscaled) },
            { title: "weight, scaled by 1/√d_k", quantity: "scaled", values: scaled, colour: "var(--ar-series-1)", domain: weights, total: Math.max(...scaled) },
          ],
        }),
        h("figcaption", {},
          `Entropy of the weights: ${fixed(entropy(unscaled), 4)} unscaled, ${fixed(entropy(scaled), 4)} scaled (uniform weights: ln 6 = ${fixed(Math.log(6), 4)}). `,
          "The last row gives each column's largest weight. Slide d_k up: the scores spread like √d_k, and without the scale softmax gives one key nearly everything."),
      );
    }
    render();
  });
}

// Mounting --------------------------------------------------------------------------

const WIDGETS = { playground: mountPlayground, softmax: mountSoftmax, scaling: mountScaling };

document$.subscribe(({ body }) => {
  for (const root of body.querySelectorAll("[data-attention-widget]")) {
    if (root.dataset.mounted) continue;
    root.dataset.mounted = "true";
    WIDGETS[root.dataset.attentionWidget](root);
  }
});
