// The attention playground: tokens and embeddings to edit; scores, weights and context
// vectors computed by attention.js as the reader types; and "Copy as Python".

import { attention, naiveFailure } from "./attention.js";
import { INPUTS, QUERY, TOKENS } from "./data.js";
import { barTable, failureNote, heatmap, scatter } from "./displays.js";
import { h, numberField, uid } from "./elements.js";
import { PYTHON_SHOW, fixed, show } from "./format.js";

const MAX_TOKENS = 12;
const MAX_DIM = 8;

/** The Python literal of a number: the shortest decimal that reads back as it (a float). */
const pyNumber = (x) => (Number.isInteger(x) ? `${x}.0` : String(x));

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
    query: QUERY,
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

export function mountPlayground(root) {
  const state = exampleState();
  const invalid = new Set(); // the fields whose entry is not (yet) a number
  const nameErrors = new Set();
  root.replaceChildren();
  const editor = h("div", { class: "ar-editor" });
  const querySelect = h("select", { id: uid("ar-query"), class: "ar-select" });
  const dimSelect = h(
    "select",
    { id: uid("ar-dim"), class: "ar-select" },
    Array.from({ length: MAX_DIM }, (_, k) => h("option", { value: k + 1, text: k + 1 })),
  );
  const addButton = h("button", { type: "button", class: "ar-button", text: "Add a token" });
  const resetButton = h("button", {
    type: "button",
    class: "ar-button",
    text: "Reset to the example",
  });
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
      return h(
        "div",
        { class: "ar-choice" },
        h("input", {
          type: "radio",
          name: group,
          id,
          value,
          checked: value === current,
          onchange: () => onChange(value),
        }),
        h("label", { for: id }, label, hint && h("span", { class: "ar-hint", text: ` (${hint})` })),
      );
    });
  };
  const normalizeChoices = radios("normalize", NORMALIZATIONS, state.normalize, (value) => {
    state.normalize = value;
    update();
  });
  const sqrtLabel = h("span");
  const scaleChoices = radios(
    "scale",
    [
      ["one", "1", "the story: plain dot products"],
      ["sqrt", "1/√D", null],
      ["temperature", "1/T", "a temperature T, set below"],
    ],
    state.scaleMode,
    (value) => {
      state.scaleMode = value;
      update();
    },
  );
  scaleChoices[1].querySelector("label").append(sqrtLabel);
  const temperatureId = uid("ar-temperature");
  const temperatureOutput = h("output", { for: temperatureId, class: "ar-output" });
  const temperature = h("input", {
    type: "range",
    id: temperatureId,
    min: 1,
    max: 100,
    step: 1,
    value: state.temperatureStep,
    class: "ar-range",
    oninput: () => {
      state.temperatureStep = Number(temperature.value);
      state.scaleMode = "temperature"; // moving T means using it
      scaleChoices[2].querySelector("input").checked = true;
      update();
    },
  });
  const causalId = uid("ar-causal");
  const causal = h("input", {
    type: "checkbox",
    id: causalId,
    onchange: () => {
      state.causal = causal.checked;
      update();
    },
  });

  root.append(
    h(
      "fieldset",
      { class: "ar-group" },
      h("legend", { text: "Tokens and their embeddings" }),
      editor,
      h(
        "div",
        { class: "ar-row" },
        addButton,
        h("label", { for: dimSelect.id, class: "ar-inline" }, "Dimensions D ", dimSelect),
        resetButton,
      ),
    ),
    h(
      "fieldset",
      { class: "ar-group" },
      h("legend", { text: "Attention" }),
      h(
        "div",
        { class: "ar-row" },
        h("label", { for: querySelect.id, class: "ar-inline" }, "Query ", querySelect),
        h(
          "span",
          { class: "ar-choice" },
          causal,
          h(
            "label",
            { for: causalId },
            "Causal mask",
            h("span", {
              class: "ar-hint",
              text: " (each token sees itself and the tokens before it)",
            }),
          ),
        ),
      ),
      h(
        "fieldset",
        { class: "ar-subgroup" },
        h("legend", { text: "Weights from scores" }),
        normalizeChoices,
      ),
      h(
        "fieldset",
        { class: "ar-subgroup" },
        h("legend", { text: "Scale the scores by" }),
        scaleChoices,
        h(
          "div",
          { class: "ar-row ar-slider" },
          h("label", { for: temperatureId, text: "Temperature T" }),
          temperature,
          temperatureOutput,
        ),
      ),
    ),
    status,
    h("div", { class: "ar-results" }, Object.values(results)),
    pythonPanel(() => pythonSnippet(state)),
  );

  // The token editor: rebuilt when tokens or dimensions are added or removed ----------
  function renderEditor(focus) {
    invalid.clear();
    nameErrors.clear();
    const header = h(
      "tr",
      {},
      h("th", { scope: "col", text: "token" }),
      Array.from({ length: state.dim }, (_, k) => h("th", { scope: "col", text: `d${k + 1}` })),
      h("th", { scope: "col" }, h("span", { class: "ar-sr", text: "remove" })),
    );
    const rows = state.tokens.map((token, i) => {
      const name = h("input", {
        type: "text",
        class: "ar-input ar-name",
        value: token.name,
        maxlength: 16,
        autocomplete: "off",
        spellcheck: "false",
        "aria-label": `Token ${i + 1}, name`,
        "aria-describedby": uid("ar-message"),
      });
      const nameMessage = h("span", {
        id: name.getAttribute("aria-describedby"),
        class: "ar-field-message",
        "aria-live": "polite",
      });
      name.addEventListener("input", () => {
        const error = name.value.trim() ? "" : "Name the token.";
        nameMessage.textContent = error;
        name.toggleAttribute("aria-invalid", Boolean(error));
        if (error) nameErrors.add(i);
        else nameErrors.delete(i);
        if (!error) {
          token.name = name.value.trim();
          cells.forEach((cell, k) =>
            cell.input.setAttribute("aria-label", `${token.name}, dimension ${k + 1}`),
          );
          remove.setAttribute("aria-label", `Remove ${token.name}`);
          remove.title = `Remove ${token.name}`;
        }
        update();
      });
      const cells = token.values.map((value, k) =>
        numberField({
          label: `${token.name}, dimension ${k + 1}`,
          value,
          className: "ar-entry",
          onValue: (x) => {
            token.values[k] = x;
            update();
          },
          onValidity: (input, ok) => {
            if (ok) invalid.delete(input);
            else {
              invalid.add(input);
              update();
            }
          },
        }),
      );
      const remove = h("button", {
        type: "button",
        class: "ar-button ar-remove",
        "aria-label": `Remove ${token.name}`,
        title: `Remove ${token.name}`,
        disabled: state.tokens.length === 1,
        text: "×",
        onclick: () => {
          state.tokens.splice(i, 1);
          if (state.query >= state.tokens.length || state.query > i)
            state.query = Math.max(0, state.query - 1);
          renderEditor({ row: Math.min(i, state.tokens.length - 1), remove: true });
        },
      });
      return h(
        "tr",
        { dataset: { token: i } },
        h("td", {}, h("span", { class: "ar-field" }, name, nameMessage)),
        cells.map((cell) => h("td", {}, cell.wrapper)),
        h("td", {}, remove),
      );
    });
    editor.replaceChildren(
      h(
        "div",
        { class: "ar-scroll" },
        h(
          "table",
          { class: "ar-embeddings" },
          h("caption", { class: "ar-sr", text: "Tokens and embeddings" }),
          h("thead", {}, header),
          h("tbody", {}, rows),
        ),
      ),
    );
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
    for (const token of state.tokens)
      token.values = Array.from({ length: dim }, (_, k) => token.values[k] ?? 0);
    state.dim = dim;
    state.axes = dim === 1 ? [0, null] : state.axes.map((k, n) => (k !== null && k < dim ? k : n));
    renderEditor();
    dimSelect.focus();
  });
  resetButton.addEventListener("click", () => {
    Object.assign(state, exampleState());
    root.querySelectorAll("input[type=radio]").forEach((radio) => {
      radio.checked = radio.value === state.normalize || radio.value === state.scaleMode;
    });
    causal.checked = false;
    temperature.value = state.temperatureStep;
    renderEditor();
  });
  querySelect.addEventListener("change", () => {
    state.query = Number(querySelect.value);
    update();
  });

  // Results ---------------------------------------------------------------------------
  let shownLabels = "";
  function update() {
    const labels = state.tokens.map((t) => t.name);
    if (JSON.stringify(labels) !== shownLabels) {
      // rebuilt only when a name changes
      shownLabels = JSON.stringify(labels);
      querySelect.replaceChildren(
        ...labels.map((label, i) => h("option", { value: i, text: label })),
      );
    }
    querySelect.value = String(state.query);
    sqrtLabel.textContent = ` = ${show(1 / Math.sqrt(state.dim))}`;
    temperatureOutput.textContent = `T = ${fixed(temperatureOf(state.temperatureStep), 2)}`;
    temperature.setAttribute("aria-valuetext", temperatureOutput.textContent);

    const view = compute(state);
    results.bars.replaceChildren(...queryPanel(view));
    results.heatmap.replaceChildren(...weightsPanel(view));
    results.context.replaceChildren(...contextPanel(view));
    const [plot, note, caption] = scatterPanel(view);
    results.scatter.replaceChildren(plot, note || "", axisControls(), caption);

    const problems = [];
    if (invalid.size) {
      const entries = invalid.size === 1 ? "One entry needs" : `${invalid.size} entries need`;
      problems.push(
        `${entries} fixing (see the message next to it); the results use the last valid numbers.`,
      );
    }
    if (nameErrors.size) problems.push("Every token needs a name.");
    status.textContent = problems.join(" ");
    status.hidden = problems.length === 0;
  }

  function axisControls() {
    if (state.dim < 3)
      return h("p", {
        class: "ar-note",
        text: state.dim === 1 ? "D = 1: the tokens lie on a line." : "",
      });
    const select = (n) => {
      const id = uid("ar-axis");
      const options = Array.from({ length: state.dim }, (_, k) =>
        h("option", { value: k, text: `dimension ${k + 1}`, selected: k === state.axes[n] }),
      );
      const element = h("select", { id, class: "ar-select" }, options);
      element.addEventListener("change", () => {
        const chosen = Number(element.value);
        state.axes[n] = chosen;
        if (state.axes[1 - n] === chosen) state.axes[1 - n] = (chosen + 1) % state.dim; // two different axes
        update(); // rebuilds the selects: keep the focus on this one
        results.scatter.querySelectorAll("select")[n].focus();
      });
      return h("label", { for: id, class: "ar-inline" }, n === 0 ? "Across " : "Up ", element);
    };
    return h("div", { class: "ar-row" }, select(0), select(1));
  }

  renderEditor();
}

/** Everything the playground's panels show, computed once per change. */
function compute(state) {
  const labels = state.tokens.map((t) => t.name);
  const inputs = state.tokens.map((t) => t.values);
  const scale = scaleOf(state);
  const args = { query: inputs, key: inputs, value: inputs, scale, causal: state.causal };
  let result,
    sumError = null;
  try {
    result = attention({ ...args, normalize: state.normalize });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    sumError = error.cause?.query ?? 0; // normalize_sum: a row sums to 0
    result = attention(args); // for the scores, which are still shown
  }
  const failures = new Map(); // naive softmax: row -> its overflow or underflow
  if (state.normalize === "naive") {
    result.scores.forEach((row, i) => {
      const failure = naiveFailure(row.map((s, j) => (result.allowed[i][j] ? s : -Infinity)));
      if (failure) failures.set(i, failure);
    });
  }
  const undefinedWeights =
    sumError === null
      ? null
      : `undefined: the scores of ${labels[sumError]} sum to 0, and dividing by 0 is undefined ` +
        "(normalize_sum raises an error; softmax has no such problem)";
  return {
    state,
    labels,
    inputs,
    scale,
    ...result,
    failures,
    undefinedWeights,
    q: state.query,
    name: labels[state.query],
  };
}

/** The query's scores and weights as bars, with what they mean or how they failed. */
function queryPanel({
  labels,
  scores,
  weights,
  allowed,
  failures,
  undefinedWeights,
  scale,
  q,
  name,
}) {
  const row = weights[q];
  const finite = row.filter(Number.isFinite);
  const failure = failures.get(q);
  const shownScores = scores[q].map((s, j) => (allowed[q][j] ? s : NaN));
  const table = barTable({
    caption: `Scores and weights of ${name}`,
    labels,
    highlight: q,
    columns: [
      {
        title: "score",
        quantity: "query-scores",
        values: scores[q],
        colour: "var(--ar-series-0)",
        domain: [Math.min(0, ...scores[q]), Math.max(0, ...scores[q])],
      },
      {
        title: "weight",
        quantity: "query-weights",
        values: row,
        colour: "var(--ar-accent)",
        domain: [Math.min(0, ...finite), Math.max(1, ...finite)],
        total: row.reduce((a, b) => a + b, 0),
        message: undefinedWeights,
        flag: failure?.kind,
      },
    ],
  });
  const caption = barsCaption({
    name,
    scale,
    failure,
    scores: shownScores,
    labels,
    masked: allowed[q].includes(false),
  });
  return [table, h("figcaption", {}, caption)];
}

/** The weight matrix as a heatmap. */
function weightsPanel({ labels, weights, allowed, failures, undefinedWeights, q }) {
  if (undefinedWeights) {
    return [
      h("p", {
        class: "ar-cell-message",
        dataset: { quantity: "weights" },
        text: `Weights ${undefinedWeights}.`,
      }),
    ];
  }
  const kinds = [...new Set([...failures.values()].map((f) => f.kind))].join(" and ");
  const rows = [...failures.keys()].map((i) => labels[i]).join(", ");
  const caption = failures.size
    ? `Rows with nan: naive softmax ${kinds} (${rows}).`
    : "Each row sums to 1 and is one query's weights; the highlighted row is the query's.";
  const title = "Weights of every query (rows) over every token (columns)";
  return [
    ...heatmap({
      caption: title,
      labels,
      weights,
      allowed,
      highlight: q,
      failedRows: new Set(failures.keys()),
    }),
    h("figcaption", { text: caption }),
  ];
}

/** Every token's context vector, the query's highlighted. */
function contextPanel({ state, labels, context, undefinedWeights, q, name }) {
  if (undefinedWeights) {
    return [
      h("p", {
        class: "ar-cell-message",
        dataset: { quantity: "context" },
        text: `Context vectors ${undefinedWeights}.`,
      }),
    ];
  }
  const dims = Array.from({ length: state.dim }, (_, k) => `d${k + 1}`);
  const number = (x, i, k) =>
    h("span", {
      class: "ar-number",
      dataset: { quantity: "context", row: i, col: k },
      text: show(x),
    });
  const table = h(
    "table",
    { class: "ar-matrix" },
    h("caption", { text: "Context vectors: each token's weighted mix of all inputs" }),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col", text: "token" }),
        dims.map((d) => h("th", { scope: "col", text: d })),
      ),
    ),
    h(
      "tbody",
      {},
      context.map((row, i) =>
        h(
          "tr",
          { class: i === q ? "ar-highlight" : null },
          h("th", { scope: "row", text: labels[i] }),
          row.map((x, k) => h("td", {}, number(x, i, k))),
        ),
      ),
    ),
  );
  const caption = `The highlighted row is z, the context vector of ${name}: the inputs weighted by ${name}'s weights and added.`;
  return [h("div", { class: "ar-scroll" }, table), h("figcaption", { text: caption })];
}

/** The tokens in two dimensions, with the query's context vector among them. */
function scatterPanel({ state, labels, inputs, weights, context, undefinedWeights, q, name }) {
  const z = undefinedWeights ? [] : context[q];
  const missing = !z.length || z.some((x) => !Number.isFinite(x));
  const caption =
    state.normalize === "sum"
      ? "Lines join the context vector to each token, thicker for larger weights. Negative weights can push it outside the tokens' span."
      : "Lines join the context vector to each token, thicker for larger weights. With weights that are positive and sum to 1, it always lies among the tokens.";
  return [
    scatter({
      labels,
      inputs,
      axes: state.axes,
      query: q,
      context: z,
      weights: undefinedWeights ? [] : weights[q],
    }),
    missing &&
      h("p", {
        class: "ar-note ar-warning",
        text: `The context vector of ${name} cannot be drawn: it is ${undefinedWeights ? "undefined" : "nan"}.`,
      }),
    h("figcaption", { text: caption }),
  ];
}

function barsCaption({ name, scale, failure, scores, labels, masked }) {
  const note = failureNote(failure, scores, labels);
  if (note) return note;
  const scaled = scale === 1 ? "" : ` times the scale ${show(scale)}`;
  const causal = masked ? " Masked tokens come after the query: they get weight 0." : "";
  return (
    `Each score is the dot product of ${name} with a token${scaled}; the weights turn them ` +
    `into shares that sum to 1.${causal}`
  );
}

/** The snippet "Copy as Python" gives: the displayed numbers, from attention_ref. */
function pythonSnippet(state) {
  const n = state.tokens.length;
  const names = state.tokens.map((t) => JSON.stringify(t.name));
  const width = Math.max(...names.map((s) => s.length));
  const rows = state.tokens.map(
    (t, i) => `    [${t.values.map(pyNumber).join(", ")}],  # ${names[i]}`,
  );
  const functions = { softmax: "softmax", naive: "softmax_naive", sum: "normalize_sum" }[
    state.normalize
  ];
  const imports = ["attention_scores", state.causal ? "causal_mask" : null, functions]
    .filter(Boolean)
    .sort();
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
    lines.push(
      state.causal
        ? "weights = normalize_sum(np.where(may_attend, scores, 0.0))  # masked: score 0"
        : "weights = normalize_sum(scores)  # each row divided by its sum",
    );
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
  const details = h(
    "details",
    { class: "ar-details" },
    h("summary", { text: "Show the Python" }),
    h("pre", {}, code),
  );
  const feedback = h("span", { class: "ar-copied", role: "status" });
  const button = h("button", {
    type: "button",
    class: "ar-button ar-copy",
    text: "Copy as Python",
  });
  const refresh = () => {
    code.textContent = snippet();
  };
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
