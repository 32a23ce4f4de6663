// The two small widgets of the story pages: three normalisations side by side on Step 2,
// and weights with and without 1/sqrt(d_k) on "Why divide by sqrt(d_k)".

import { attentionScores, naiveFailure, normalizeSum, softmax, softmaxNaive } from "./attention.js";
import { INPUTS, QUERY, TOKENS } from "./data.js";
import { barTable, failureNote } from "./displays.js";
import { h, numberField, uid } from "./elements.js";
import { fixed } from "./format.js";

// Step 2: three normalisations side by side -------------------------------------------

export function mountSoftmax(root) {
  const base = attentionScores([INPUTS[QUERY]], INPUTS)[0]; // journey's scores
  const scores = [...base];
  let shift = 0;
  root.replaceChildren();
  const output = h("figure", { class: "ar-panel" });
  const scoreInputs = TOKENS.map((token, j) =>
    typedOrDragged({
      label: `Score of ${token}`,
      sliderLabel: `Drag the score of ${token}`,
      range: [-5, 5, 0.01],
      value: scores[j],
      onValue: (x) => {
        scores[j] = x;
        render();
      },
    }),
  );
  const rows = TOKENS.map((token, j) =>
    h(
      "tr",
      {},
      h("th", { scope: "row", text: token }),
      h("td", {}, scoreInputs[j].field),
      h("td", { class: "ar-slider-cell" }, scoreInputs[j].slider),
    ),
  );
  const shiftInput = typedOrDragged({
    label: "Added to every score",
    range: [-1000, 1000, 10],
    value: 0,
    onValue: (x) => {
      shift = x;
      render();
    },
  });
  const reset = h("button", {
    type: "button",
    class: "ar-button",
    text: "Reset",
    onclick: () => {
      base.forEach((s, j) => {
        scores[j] = s;
        scoreInputs[j].set(s);
      });
      shift = 0;
      shiftInput.set(0);
      render();
    },
  });
  root.append(
    h(
      "fieldset",
      { class: "ar-group" },
      h("legend", { text: "Scores of journey: type or drag" }),
      h(
        "div",
        { class: "ar-scroll" },
        h(
          "table",
          { class: "ar-embeddings ar-score-editor" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col", text: "token" }),
              h("th", { scope: "col", text: "score" }),
              h("th", { scope: "col" }, h("span", { class: "ar-sr", text: "slider" })),
            ),
          ),
          h("tbody", {}, rows),
        ),
      ),
      h(
        "div",
        { class: "ar-row ar-slider" },
        h("label", { for: shiftInput.slider.id, text: "Add to every score" }),
        shiftInput.slider,
        shiftInput.field,
        reset,
      ),
    ),
    output,
  );

  function render() {
    const shifted = scores.map((s) => s + shift);
    const failure = naiveFailure(shifted);
    let sum = null,
      sumMessage = null;
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
        caption:
          shift === 0
            ? "Weights from the scores of journey"
            : `Weights from the scores of journey ${shift > 0 ? "+" : "−"} ${String(Math.abs(shift))}`,
        labels: TOKENS,
        highlight: QUERY,
        columns: [
          {
            title: "stable softmax",
            quantity: "stable",
            values: stable,
            colour: "var(--ar-accent)",
            domain: weightDomain,
            total: total(stable),
          },
          {
            title: "naive softmax",
            quantity: "naive",
            values: naive,
            colour: "var(--ar-series-2)",
            domain: weightDomain,
            total: total(naive),
            flag: failure?.kind,
          },
          {
            title: "divide by the sum",
            quantity: "sum",
            values: sum ?? [],
            colour: "var(--ar-series-0)",
            domain: weightDomain,
            total: sum ? total(sum) : undefined,
            message: sumMessage,
          },
        ],
      }),
      h(
        "figcaption",
        {},
        failure
          ? failureNote(failure, shifted, TOKENS)
          : "Shift every score with the slider: stable softmax does not move, division by the sum does, and past 709.78 the naive formula overflows.",
      ),
    );
  }
  render();
}

/**
 * A number the reader can type or drag: a text field and a slider that follow each other.
 * `onValue` gets every valid value; `set(x)` puts x in both (the field shows 4 decimals of
 * a computed number).
 */
function typedOrDragged({ label, sliderLabel, range: [min, max, step], value, onValue }) {
  const slider = h("input", {
    type: "range",
    id: uid("ar-slider"),
    min,
    max,
    step,
    value,
    class: "ar-range",
    "aria-label": sliderLabel,
  });
  const field = numberField({
    label,
    value: Number.isInteger(value) ? value : fixed(value, 4),
    className: "ar-entry",
    onValue: (x) => {
      slider.value = x;
      onValue(x);
    },
  });
  slider.addEventListener("input", () => {
    field.set(Number(slider.value));
    onValue(Number(slider.value));
  });
  const set = (x) => {
    slider.value = x;
    field.set(Number.isInteger(x) ? x : fixed(x, 4));
  };
  return { field: field.wrapper, slider, set };
}

// Why divide by sqrt(d_k): weights with and without scaling ---------------------------

let scalingDraw = null;
const loadScalingDraw = () =>
  (scalingDraw ??= fetch(new URL("./scaling-draw.json", import.meta.url)).then((response) => {
    if (!response.ok) throw new Error(`scaling-draw.json: HTTP ${response.status}`);
    return response.json();
  }));

const entropy = (weights) => -weights.reduce((sum, w) => sum + (w > 0 ? w * Math.log(w) : 0), 0);

export function mountScaling(root) {
  root.replaceChildren(h("p", { class: "ar-note", text: "Loading the random query and keys…" }));
  loadScalingDraw().then((draw) => {
    const labels = draw.keys.map((_, j) => `key ${j + 1}`);
    const sliderId = uid("ar-dk");
    const dimOf = (position) => 2 ** position;
    const output = h("output", { for: sliderId, class: "ar-output" });
    const slider = h("input", {
      type: "range",
      id: sliderId,
      min: 0,
      max: Math.log2(draw.query.length),
      step: 1,
      value: 6,
      class: "ar-range",
      oninput: () => render(),
    });
    const result = h("figure", { class: "ar-panel" });
    root.replaceChildren(
      h(
        "div",
        { class: "ar-row ar-slider" },
        h("label", { for: sliderId, text: "d_k, the length of the query and keys" }),
        slider,
        output,
      ),
      result,
      h(
        "p",
        { class: "ar-note" },
        "One random query and six keys, with unit-variance entries: ",
        h("code", { text: draw.source }),
        "; the widget uses their first d_k entries.",
      ),
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
            {
              title: "score q·k",
              quantity: "scaling-scores",
              values: scores,
              colour: "var(--ar-series-0)",
              domain: [-spread, spread],
              digits: 2,
            },
            {
              title: "weight, unscaled",
              quantity: "unscaled",
              values: unscaled,
              colour: "var(--ar-accent)",
              domain: weights,
              total: Math.max(...unscaled),
            },
            {
              title: "weight, scaled by 1/√d_k",
              quantity: "scaled",
              values: scaled,
              colour: "var(--ar-series-1)",
              domain: weights,
              total: Math.max(...scaled),
            },
          ],
        }),
        h(
          "figcaption",
          {},
          `Entropy of the weights: ${fixed(entropy(unscaled), 4)} unscaled, ${fixed(entropy(scaled), 4)} scaled (uniform weights: ln 6 = ${fixed(Math.log(6), 4)}). `,
          "The last row gives each column's largest weight. Slide d_k up: the scores spread like √d_k, and without the scale softmax gives one key nearly everything.",
        ),
      );
    }
    render();
  });
}
