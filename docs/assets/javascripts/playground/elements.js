// Small helpers to build the widgets' elements, and the number fields readers type into.

const LIMIT = 1e6; // the largest magnitude an entry may have

let lastId = 0;
export const uid = (prefix) => `${prefix}-${++lastId}`;

/** An HTML element: h("td", { class: "x", text: "1" }, child, ...). */
export function h(tag, props = {}, ...children) {
  return build(document.createElement(tag), props, children);
}

/** An SVG element, like h. */
export function svg(tag, props = {}, ...children) {
  return build(document.createElementNS("http://www.w3.org/2000/svg", tag), props, children);
}

function build(element, props, children) {
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") element.textContent = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name === "vars")
      for (const [v, x] of Object.entries(value)) element.style.setProperty(v, x);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name === "className" ? "class" : name, value === true ? "" : value);
  }
  element.append(
    ...children.flat().filter((child) => child !== null && child !== undefined && child !== false),
  );
  return element;
}

// Reading what the reader typed -----------------------------------------------------

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** { value } for a number in [-LIMIT, LIMIT], else { error } saying what is wrong. */
export function parseEntry(text) {
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
export function numberField({ label, value, onValue, onValidity, className = "" }) {
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

/** A number as a field shows it: the shortest decimal that reads back as it, as typed. */
const displayEntry = (x) => String(x);
