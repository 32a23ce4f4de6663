// The displays the widgets share: bars with numbers, the heatmap of weights, the 2-D view of
// the tokens, and what a failed naive softmax means. Numbers are written by format.js.

import { EXP_LIMIT } from "./attention.js";
import { THEMES } from "./data.js";
import { h, svg } from "./elements.js";
import { fixed, show } from "./format.js";

const UNDERFLOW_LIMIT = Math.log(Number.MIN_VALUE); // about -744.4: below it e^x is 0

// Colours -----------------------------------------------------------------------

/** WCAG 2 relative luminance of "#rrggbb". */
function luminance(hex) {
  const channels = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const [r, g, b] = channels.map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** The WCAG contrast ratio of two "#rrggbb" colours, from 1 to 21. */
function contrast(a, b) {
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
    const text =
      contrast(background, "#000000") >= contrast(background, "#ffffff") ? "#000000" : "#ffffff";
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
export function barTable({
  caption,
  labels,
  columns,
  highlight = -1,
  labelTitle = "token",
  totalTitle = "sum",
}) {
  const head = h(
    "tr",
    {},
    h("th", { scope: "col", text: labelTitle }),
    columns.map((column) =>
      h(
        "th",
        { scope: "col" },
        column.title,
        column.flag && h("span", { class: "ar-flag", text: column.flag }),
      ),
    ),
  );
  const rows = labels.map((label, i) =>
    h(
      "tr",
      { class: i === highlight ? "ar-highlight" : null },
      h("th", { scope: "row", text: label }),
      columns.map((column) =>
        column.message ? (i === 0 ? messageCell(column, labels.length) : null) : barCell(column, i),
      ),
    ),
  );
  const totals = columns.some((column) => column.total !== undefined)
    ? h(
        "tfoot",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "row", text: totalTitle }),
          columns.map((column) =>
            h(
              "td",
              { class: "ar-total" },
              column.total === undefined || column.message
                ? ""
                : h("span", {
                    class: "ar-number",
                    dataset: { quantity: `${column.quantity}-sum` },
                    text: show(column.total, column.digits ?? 4),
                  }),
            ),
          ),
        ),
      )
    : null;
  return h(
    "table",
    { class: "ar-bars" },
    h("caption", { text: caption }),
    h("thead", {}, head),
    h("tbody", {}, rows),
    totals,
  );
}

function barCell(column, i) {
  const value = column.values[i];
  const [lo, hi] = column.domain;
  const position = (x) => (100 * (Math.min(hi, Math.max(lo, x)) - lo)) / (hi - lo || 1);
  const bar = Number.isNaN(value)
    ? h("span", { class: "ar-bar ar-bar-nan", vars: { "--ar-left": "0%", "--ar-width": "100%" } })
    : h("span", {
        class: "ar-bar",
        vars: {
          "--ar-left": `${Math.min(position(0), position(value))}%`,
          "--ar-width": `${Math.abs(position(value) - position(0))}%`,
          "--ar-bar-colour": column.colour,
        },
      });
  return h(
    "td",
    {},
    h("span", {
      class: "ar-number",
      dataset: { quantity: column.quantity, row: i },
      text: show(value, column.digits ?? 4),
    }),
    h(
      "span",
      { class: "ar-bar-track", "aria-hidden": "true", vars: { "--ar-zero": `${position(0)}%` } },
      bar,
    ),
  );
}

function messageCell(column, span) {
  return h(
    "td",
    { rowspan: span, class: "ar-cell-message", dataset: { quantity: column.quantity } },
    column.message,
  );
}

/** The weight matrix as a table of coloured cells, labelled with the tokens. */
export function heatmap({ caption, labels, weights, allowed, highlight, failedRows }) {
  const mask = allowed.flat();
  const finite = weights.flat().filter((w, k) => Number.isFinite(w) && mask[k]);
  const vmin = Math.min(0, ...finite);
  const vmax = Math.max(vmin, ...finite);
  const head = h(
    "tr",
    {},
    h("td", { class: "ar-corner" }),
    labels.map((label) => h("th", { scope: "col" }, h("span", { text: label }))),
  );
  const rows = weights.map((row, i) =>
    h(
      "tr",
      { class: i === highlight ? "ar-highlight" : null },
      h("th", { scope: "row", text: labels[i] }),
      row.map((w, j) => {
        const data = { quantity: "weights", row: i, col: j };
        if (!allowed[i][j]) return h("td", { class: "ar-cell-masked", "aria-label": "masked" });
        if (failedRows?.has(i))
          return h("td", { class: "ar-cell-nan", dataset: data, text: show(w, 2) });
        return h("td", { dataset: data, vars: cellColours(w, vmin, vmax), text: show(w, 2) });
      }),
    ),
  );
  const scale = h(
    "p",
    { class: "ar-note" },
    `Colour from ${fixed(vmin, 2)} (`,
    h("span", { class: "ar-swatch", vars: cellColours(vmin, vmin, vmax) }),
    `) to the largest weight, ${fixed(vmax, 2)} (`,
    h("span", { class: "ar-swatch", vars: cellColours(vmax, vmin, vmax) }),
    ").",
  );
  return [
    h(
      "div",
      { class: "ar-scroll" },
      h(
        "table",
        { class: "ar-heatmap" },
        h("caption", { text: caption }),
        h("thead", {}, head),
        h("tbody", {}, rows),
      ),
    ),
    scale,
  ];
}

/** Tokens as points in two of their dimensions, with the query's context vector among them. */
export function scatter({ labels, inputs, axes, query, context, weights }) {
  const [a, b] = axes;
  const points = inputs.map((x) => [x[a], b === null ? 0 : x[b]]);
  const z = [context[a], b === null ? 0 : context[b]];
  const shown = Number.isFinite(z[0]) && Number.isFinite(z[1]) ? [...points, z] : points;
  const [xs, ys] = [shown.map((p) => p[0]), shown.map((p) => p[1])];
  const width = 320,
    height = 240,
    margin = { left: 44, right: 16, top: 12, bottom: 34 };
  const x = linearScale(xs, [margin.left, width - margin.right]);
  const y = linearScale(ys, [height - margin.bottom, margin.top]);
  const axisName = (k) => (k === null ? "" : `dimension ${k + 1}`);
  const children = [
    ...x.ticks.map((t) =>
      svg(
        "g",
        { class: "ar-tick" },
        svg("line", { x1: x(t), x2: x(t), y1: margin.top, y2: height - margin.bottom }),
        svg("text", {
          x: x(t),
          y: height - margin.bottom + 14,
          "text-anchor": "middle",
          text: x.label(t),
        }),
      ),
    ),
    ...(b === null
      ? []
      : y.ticks.map((t) =>
          svg(
            "g",
            { class: "ar-tick" },
            svg("line", { x1: margin.left, x2: width - margin.right, y1: y(t), y2: y(t) }),
            svg("text", {
              x: margin.left - 6,
              y: y(t) + 4,
              "text-anchor": "end",
              text: y.label(t),
            }),
          ),
        )),
    svg("text", {
      class: "ar-axis-name",
      x: (margin.left + width - margin.right) / 2,
      y: height - 4,
      "text-anchor": "middle",
      text: axisName(a),
    }),
    svg("text", {
      class: "ar-axis-name",
      x: 12,
      y: (margin.top + height - margin.bottom) / 2,
      "text-anchor": "middle",
      transform: `rotate(-90 12 ${(margin.top + height - margin.bottom) / 2})`,
      text: axisName(b),
    }),
  ];
  const placed = [];
  const label = (text, px, py, className) => {
    const box = placeLabel(text, px, py, placed, width, height);
    return svg("text", { class: className, x: box.x, y: box.y, "text-anchor": box.anchor, text });
  };
  if (shown.length > points.length) {
    points.forEach((p, j) =>
      children.push(
        svg("line", {
          class: "ar-pull",
          x1: x(z[0]),
          y1: y(z[1]),
          x2: x(p[0]),
          y2: y(p[1]),
          "stroke-width": 0.5 + 4 * Math.min(1, Math.abs(weights[j])),
        }),
      ),
    );
  }
  points.forEach((p, j) => {
    children.push(
      svg("circle", {
        class: j === query ? "ar-point ar-point-query" : "ar-point",
        cx: x(p[0]),
        cy: y(p[1]),
        r: j === query ? 5 : 4,
      }),
    );
  });
  points.forEach((p, j) =>
    children.push(
      label(labels[j], x(p[0]), y(p[1]), j === query ? "ar-label ar-label-query" : "ar-label"),
    ),
  );
  if (shown.length > points.length) {
    const [cx, cy] = [x(z[0]), y(z[1])];
    children.push(
      svg("path", {
        class: "ar-context",
        d: `M${cx} ${cy - 7}L${cx + 7} ${cy}L${cx} ${cy + 7}L${cx - 7} ${cy}Z`,
      }),
    );
    children.push(label(`context of ${labels[query]}`, cx, cy, "ar-label ar-label-context"));
  }
  const title = `Tokens in ${b === null ? "dimension 1" : `dimensions ${a + 1} and ${b + 1}`}, with the context vector of ${labels[query]}`;
  return svg(
    "svg",
    { class: "ar-scatter", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title },
    svg("title", { text: title }),
    ...children,
  );
}

/** Maps [min, max] of `values` (padded) onto `range`, with round ticks and their labels. */
function linearScale(values, [start, end]) {
  let lo = Math.min(...values),
    hi = Math.max(...values);
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
  const w = 6.2 * text.length + 4,
    lineHeight = 13;
  const candidates = [
    { x: px + 8, y: py + 4, anchor: "start", left: px + 8 },
    { x: px - 8, y: py + 4, anchor: "end", left: px - 8 - w },
    { x: px + 8, y: py - 9, anchor: "start", left: px + 8 },
    { x: px + 8, y: py + 17, anchor: "start", left: px + 8 },
    { x: px - 8, y: py - 9, anchor: "end", left: px - 8 - w },
    { x: px - 8, y: py + 17, anchor: "end", left: px - 8 - w },
  ];
  const fits = (c) => c.left >= 0 && c.left + w <= width && c.y - lineHeight >= 0 && c.y <= height;
  const free = (c) =>
    placed.every(
      (p) =>
        c.left + w <= p.left ||
        p.left + p.w <= c.left ||
        c.y <= p.y - lineHeight ||
        p.y <= c.y - lineHeight,
    );
  const choice =
    candidates.find((c) => fits(c) && free(c)) ?? candidates.find(fits) ?? candidates[0];
  placed.push({ ...choice, w });
  return choice;
}

/**
 * What went wrong in naive softmax, in words: `failure` from naiveFailure, `scores` the
 * row it failed on. Null when nothing did.
 */
export function failureNote(failure, scores, labels) {
  if (failure?.kind === "overflow") {
    const which = failure.entries.map((j) => `${labels[j]} ${show(scores[j])}`).join(", ");
    return h(
      "span",
      { class: "ar-warning" },
      h("strong", { text: "Overflow. " }),
      `e^x is inf for a score above ${fixed(EXP_LIMIT, 2)} in float64 (here ${which}), so ` +
        "the sum is inf: inf / inf is nan, and any other e^x / inf is 0. Stable softmax " +
        "subtracts the largest score first and gets the right weights.",
    );
  }
  if (failure?.kind === "underflow") {
    return h(
      "span",
      { class: "ar-warning" },
      h("strong", { text: "Underflow. " }),
      `every e^x is 0 for scores below ${fixed(UNDERFLOW_LIMIT, 2)}, so the sum is 0 and ` +
        "0 / 0 is nan. Stable softmax subtracts the largest score first and gets the right weights.",
    );
  }
  return null;
}
