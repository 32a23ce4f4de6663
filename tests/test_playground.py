"""The attention playground and the widgets of the story pages, driven in headless Chromium.

The site is built and served once per session (tests/conftest.py). Here:

- with the worked example, then after each edit a reader would make (a value, a token
  added and one removed, the causal mask, the scale, naive softmax on a large value,
  division by the sum, another query, another D), every score, weight and context number
  on display equals attention_ref's result to the digits shown, or the overflow is shown
  and labelled;
- "Copy as Python", pasted into a Python prompt, prints exactly the numbers on display;
- the playground's JavaScript passes every case of the test vectors, and the vectors'
  file on the site is the one the package writes;
- bad entries get a message next to their field and never a NaN; every control has a
  label, is reached by Tab in reading order and shows its focus; heatmap numbers reach
  4.5:1 contrast in both schemes; nothing scrolls sideways at 390 px; instant navigation
  mounts the widgets; and no page logs an error or asks another host for anything.
"""

from __future__ import annotations

import code
import contextlib
import io
import math
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin
from urllib.request import urlopen

import numpy as np
import pytest

from attention_ref import (
    attention_scores,
    causal_mask,
    normalize_sum,
    scaled_dot_product_attention,
    softmax,
    softmax_naive,
)
from attention_ref.examples import INPUTS, TOKENS
from attention_ref.vectors import build_vectors, to_json

from .conftest import PageWatch

PLAYGROUND = '[data-attention-widget="playground"]'

# Every number a widget displays, as (quantity, row, column, text).
DISPLAYED = """(root) => [...document.querySelector(root).querySelectorAll("[data-quantity]")]
  .map((el) => [el.dataset.quantity, el.dataset.row === undefined ? null : Number(el.dataset.row),
                el.dataset.col === undefined ? null : Number(el.dataset.col), el.textContent])"""


def show(x: float, decimals: int = 4) -> str:
    """A number as the widgets show it (and as the snippet of Copy as Python prints it)."""
    return f"{x:.{decimals}f}" if abs(x) < 1e5 else f"{x:.{decimals}e}"


def shows(text: str, value: float) -> bool:
    """Whether `text` is `value` to the digits shown: within half a unit of the last one."""
    if text == "nan":
        return math.isnan(value)
    if not re.fullmatch(r"-?\d+\.\d+(e[+-]\d\d)?", text):
        return False
    mantissa, _, exponent = text.partition("e")
    half = 0.5 * 10.0 ** (int(exponent or 0) - len(mantissa.split(".")[1]))
    return abs(float(text) - value) <= half * (1 + 1e-9)


@dataclass
class Model:
    """What the playground should show, computed with attention_ref from the same inputs."""

    tokens: list[str] = field(default_factory=lambda: list(TOKENS))
    inputs: list[list[float]] = field(default_factory=lambda: INPUTS.tolist())
    query: int = 1
    normalize: str = "softmax"
    scale: float = 1.0
    causal: bool = False

    def results(self) -> dict[str, np.ndarray]:
        x = np.array(self.inputs)  # (N, D)
        n = len(x)
        scores = self.scale * attention_scores(x)  # (N, N)
        may_attend = causal_mask(n) if self.causal else np.ones((n, n), dtype=bool)
        if self.normalize == "softmax":
            weights = softmax(np.where(may_attend, scores, -np.inf))
            context, reference = scaled_dot_product_attention(
                x, x, x, scale=self.scale, causal=self.causal, return_weights=True
            )
            np.testing.assert_allclose(weights, reference, rtol=1e-12, atol=1e-15)
        elif self.normalize == "naive":
            with np.errstate(over="ignore", invalid="ignore"):
                weights = softmax_naive(np.where(may_attend, scores, -np.inf))
        else:
            weights = normalize_sum(np.where(may_attend, scores, 0.0))
        with np.errstate(invalid="ignore"):  # nan weights give nan context vectors
            context = weights @ x  # (N, D)
        return {"scores": scores, "weights": weights, "context": context, "mask": may_attend}


def displayed(page, root: str = PLAYGROUND) -> dict[str, dict]:
    """{quantity: {(row, col): text}} of every number in the widget."""
    numbers: dict[str, dict] = {}
    for quantity, row, col, text in page.evaluate(DISPLAYED, root):
        numbers.setdefault(quantity, {})[(row, col)] = text.strip()
    return numbers


def mismatches(page, model: Model) -> list[str]:
    """Every displayed number that is not attention_ref's result, to the digits shown."""
    got, want = displayed(page), model.results()
    q, n = model.query, len(model.tokens)
    expected = {
        "query-scores": {(j, None): want["scores"][q, j] for j in range(n)},
        "query-weights": {(j, None): want["weights"][q, j] for j in range(n)},
        "query-weights-sum": {(None, None): want["weights"][q].sum()},
        "weights": {
            (i, j): want["weights"][i, j] for i in range(n) for j in range(n) if want["mask"][i, j]
        },
        "context": {(i, k): x for (i, k), x in np.ndenumerate(want["context"])},
    }
    problems = []
    for quantity, values in expected.items():
        shown = got.get(quantity, {})
        if set(shown) != set(values):
            problems.append(f"{quantity}: cells {sorted(shown)} instead of {sorted(values)}")
            continue
        problems += [
            f"{quantity}{key}: shows {shown[key]}, attention_ref gives {value!r}"
            for key, value in values.items()
            if not shows(shown[key], value)
        ]
    return problems


@pytest.fixture
def watch(browser, site_url):
    """A fresh page per test; at the end, no console error and no request to another host."""
    opened: list[PageWatch] = []

    def open_page(path: str, *, widget: bool = True, **options) -> PageWatch:
        page_watch = PageWatch(browser, **options)
        opened.append(page_watch)
        page_watch.page.goto(urljoin(site_url, path), wait_until="networkidle")
        if widget:  # mounted, and the scaling widget's draw loaded
            page_watch.page.wait_for_selector("[data-attention-widget][data-mounted] .ar-bars")
        return page_watch

    yield open_page
    for page_watch in opened:
        page_watch.close()
        assert page_watch.errors == []
        assert page_watch.foreign_requests == []
        assert page_watch.failed == []


def type_into(page, label: str, text: str) -> None:
    page.get_by_label(label, exact=True).fill(text)


def fits(page) -> bool:
    width = page.evaluate("document.documentElement.scrollWidth")
    return width <= page.viewport_size["width"]


# The playground's numbers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "width"), [("light", 1280), ("dark", 390)], ids=["light-1280", "dark-390"]
)
def test_every_number_matches_attention_ref_through_a_session_of_edits(watch, scheme, width):
    page = watch("playground/", color_scheme=scheme, viewport={"width": width, "height": 900}).page
    model = Model()
    steps = []

    def check(step: str) -> None:
        steps.append(step)
        assert mismatches(page, model) == [], step
        assert fits(page), f"{step}: wider than {width}px"
        text = page.locator(PLAYGROUND).inner_text()
        assert "NaN" not in text
        assert "undefined" not in text

    check("the worked example")

    type_into(page, "journey, dimension 2", "0.2")
    model.inputs[1][1] = 0.2
    check("an edited value")

    page.get_by_role("button", name="Add a token").click()
    name = page.get_by_label("Token 7, name")
    assert name.evaluate("el => el === document.activeElement")  # focus is where to type
    name.fill("road")
    for k, value in enumerate(["0.3", "-0.45", "1e-2"]):
        type_into(page, f"road, dimension {k + 1}", value)
    model.tokens.append("road")
    model.inputs.append([0.3, -0.45, 0.01])
    check("a token added")

    page.get_by_role("button", name="Remove with").click()
    del model.tokens[3], model.inputs[3]
    check("a token removed")

    page.get_by_label("Causal mask").check()
    model.causal = True
    check("causal")
    masked = page.locator(f"{PLAYGROUND} .ar-heatmap .ar-cell-masked").count()
    assert masked == 6 * 5 / 2  # above the diagonal of a 6 x 6 heatmap

    page.get_by_label("1/√D").check()
    model.scale = 1 / np.sqrt(3)
    check("scale 1/sqrt(D)")

    slider = page.get_by_role("slider", name="Temperature T")
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowLeft")  # T from 1 to 0.75, and the 1/T choice is selected
    assert page.get_by_label("1/T").is_checked()
    model.scale = 1 / 0.75
    check("temperature 0.75")

    page.get_by_label("naive softmax").check()
    model.normalize = "naive"
    check("naive softmax on small scores")
    type_into(page, "journey, dimension 2", "30")
    model.inputs[1][1] = 30.0
    check("naive softmax overflowing")
    bars = page.locator(f"{PLAYGROUND} .ar-panel").first
    assert "Overflow." in bars.inner_text()
    assert bars.locator(".ar-flag").inner_text().lower() == "overflow"
    assert "nan" in displayed(page)["query-weights"].values()
    heatmap = page.locator(f"{PLAYGROUND} .ar-heatmap").locator("xpath=../..")
    assert "naive softmax overflow" in heatmap.inner_text()

    page.get_by_label("stable softmax").check()
    model.normalize = "softmax"
    check("stable softmax on the same large value")

    page.get_by_label("divide by the sum").check()
    type_into(page, "starts, dimension 1", "-2")
    model.normalize, model.inputs[2][0] = "sum", -2.0
    check("division by the sum, with negative scores")

    page.get_by_label("Query").select_option(label="step")
    model.query = 4
    check("another query")

    page.get_by_label("Dimensions D").select_option("4")
    for row in model.inputs:
        row.append(0.0)
    check("D = 4")
    page.get_by_label("Dimensions D").select_option("2")
    model.inputs = [row[:2] for row in model.inputs]
    check("D = 2")
    assert len(steps) == 14


def test_the_widest_playground_fits_a_phone(watch):
    for scheme in ("light", "dark"):
        page = watch(
            "playground/",
            color_scheme=scheme,
            viewport={"width": 390, "height": 844},
            is_mobile=True,
        ).page
        page.get_by_label("Dimensions D").select_option("8")
        add = page.get_by_role("button", name="Add a token")
        while add.is_enabled():
            add.click()
        assert page.locator(f"{PLAYGROUND} .ar-name").count() == 12
        type_into(page, "Your, dimension 8", "-123456")  # scores in scientific notation
        assert fits(page), scheme
        model = Model(
            tokens=[*TOKENS, *(f"token{n}" for n in range(7, 13))],
            inputs=[[*row, 0, 0, 0, 0, 0] for row in INPUTS.tolist()] + [[0.5] * 8] * 6,
        )
        model.inputs[0] = [*model.inputs[0][:7], -123456.0]
        assert mismatches(page, model) == []


def test_bad_entries_get_a_message_next_to_the_field_and_never_a_nan(watch):
    page = watch("playground/").page
    before = displayed(page)
    field = page.get_by_label("starts, dimension 3", exact=True)
    message = page.locator(f"#{field.get_attribute('aria-describedby')}")
    for entry, says in [
        ("", "Enter a number."),
        ("abc", "“abc” is not a number."),
        ("1,5", "Use a point for decimals"),
        ("2e6", "from \u22121e6 to 1e6"),
        ("-1000001", "from \u22121e6 to 1e6"),
        ("inf", "not a number"),
        ("nan", "not a number"),
    ]:
        field.fill(entry)
        assert says in message.inner_text(), entry
        assert field.get_attribute("aria-invalid") is not None
        # the message sits right under its field, not somewhere else on the page
        field_box, message_box = field.bounding_box(), message.bounding_box()
        assert 0 <= message_box["y"] - (field_box["y"] + field_box["height"]) < 5
        assert "needs fixing" in page.locator(f"{PLAYGROUND} .ar-status").inner_text()
        assert displayed(page) == before, entry  # the last valid numbers, no NaN, no blank
    page.get_by_label("Token 2, name").fill(" ")
    assert "Name the token." in page.locator(PLAYGROUND).inner_text()
    page.get_by_label("Token 2, name").fill("journey")
    field.fill("\u22120.5")  # a typographic minus is a minus
    assert message.inner_text() == ""
    assert field.get_attribute("aria-invalid") is None
    assert page.locator(f"{PLAYGROUND} .ar-status").is_hidden()
    model = Model()
    model.inputs[2][2] = -0.5
    assert mismatches(page, model) == []


def test_a_row_that_sums_to_zero_is_called_undefined_not_nan(watch):
    page = watch("playground/").page
    page.get_by_label("divide by the sum").check()
    for k in (1, 2, 3):
        type_into(page, f"with, dimension {k}", "0")  # its scores are all 0
    widget = page.locator(PLAYGROUND)
    text = widget.inner_text()
    assert "the scores of with sum to 0, and dividing by 0 is undefined" in text
    assert "nan" not in text.split()
    shown = displayed(page)
    assert len(shown["query-scores"]) == 6  # the scores are still shown
    assert "undefined" in shown["weights"][(None, None)]
    assert "undefined" in shown["context"][(None, None)]
    with pytest.raises(ValueError, match="sums to 0"):  # as attention_ref says it
        Model(
            inputs=[*INPUTS.tolist()[:3], [0.0] * 3, *INPUTS.tolist()[4:]], normalize="sum"
        ).results()
    page.get_by_label("stable softmax").check()  # softmax has no such problem
    model = Model(inputs=[*INPUTS.tolist()[:3], [0.0] * 3, *INPUTS.tolist()[4:]])
    assert mismatches(page, model) == []


# Copy as Python ----------------------------------------------------------------------------


def run_as_pasted(snippet: str) -> str:
    """Run `snippet` line by line as a classic Python prompt would; return what it prints."""
    console = code.InteractiveConsole({})
    output, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(errors):
        more = False
        for line in snippet.splitlines():
            more = console.push(line)
    assert not more, "the snippet ends inside an unfinished block"
    assert errors.getvalue() == "", errors.getvalue()
    return output.getvalue()


def printed_numbers(output: str) -> dict[str, dict]:
    """The snippet's output as {quantity: {(row, col): text}}, keyed like `displayed`."""
    lines = output.splitlines()
    values = lambda line: line.split(":", 1)[1].split()  # noqa: E731
    numbers = {
        "query-scores": {(j, None): t for j, t in enumerate(values(lines[0]))},
        "query-weights": {(j, None): t for j, t in enumerate(values(lines[1]))},
        "query-weights-sum": {(None, None): values(lines[2])[0]},
        "weights": {},
        "context": {},
    }
    split = lines.index("context vectors:")
    for i, line in enumerate(lines[4:split]):
        numbers["weights"].update({(i, j): t for j, t in enumerate(values(line))})
    for i, line in enumerate(lines[split + 1 :]):
        numbers["context"].update({(i, k): t for k, t in enumerate(values(line))})
    return numbers


def copy_as_python(page) -> str:
    page.get_by_role("button", name="Copy as Python").click()
    page.wait_for_function(
        "() => document.querySelector('.ar-copied').textContent.startsWith('Copied')"
    )
    copied = page.evaluate("navigator.clipboard.readText()")
    details = page.locator(f"{PLAYGROUND} .ar-details")
    if not details.evaluate("el => el.open"):
        page.get_by_text("Show the Python").click()
    assert details.locator("code").inner_text() == copied  # what it shows is what it copies
    return copied


def test_copy_as_python_prints_the_numbers_on_display(watch):
    page = watch("playground/", permissions=["clipboard-read", "clipboard-write"]).page

    def compare(state: str) -> None:
        snippet = copy_as_python(page)
        printed, shown = printed_numbers(run_as_pasted(snippet)), displayed(page)
        assert shown.keys() == printed.keys(), state
        for quantity, cells in shown.items():
            # masked cells are blank in the heatmap and 0 in the snippet
            assert cells == {k: printed[quantity][k] for k in cells}, f"{state}: {quantity}"
        masked = printed["weights"].keys() - shown["weights"].keys()
        assert all(float(printed["weights"][k]) == 0 for k in masked), state  # or -0.00

    compare("the worked example")
    page.get_by_label("Token 4, name").fill('with "quotes"')
    type_into(page, 'with "quotes", dimension 1', "0.123456789")
    page.get_by_label("Causal mask").check()
    page.get_by_role("slider", name="Temperature T").focus()
    page.keyboard.press("Home")  # T = 1/20
    for _ in range(6):
        page.keyboard.press("ArrowRight")  # T = 7/20 = 0.35
    compare("causal, temperature, an odd name")
    page.get_by_label("naive softmax").check()
    type_into(page, "journey, dimension 3", "40")
    compare("naive softmax overflowing")
    page.get_by_label("divide by the sum").check()
    page.get_by_label("1/√D").check()
    type_into(page, "journey, dimension 2", "-150")  # its own score near 13000: 4 decimals
    type_into(page, "Your, dimension 2", "-2000")  # its score with journey near 2e5: 2e+05
    compare("division by the sum, scaled, large scores")
    shown = displayed(page)["query-scores"].values()
    assert any("e+05" in text for text in shown)
    assert any(1e4 <= abs(float(text)) < 1e5 for text in shown)


# The JavaScript math against the test vectors ------------------------------------------

RUN_VECTORS = """async ([tamper, mistake]) => {
  const { attention } = await import("/assets/javascripts/playground/attention.js");
  const vectors = await (await fetch("/assets/attention-ref-vectors.json")).json();
  const failures = [];
  for (const c of vectors.cases) {
    if (tamper) c.weights[0][0] += 10 * c.tolerance.weights + 1e-300;
    const args = { query: c.query, key: c.key, value: c.value, scale: c.scale, mask: c.mask,
                   causal: c.causal };
    if (mistake === "no scale") args.scale = 1;
    if (mistake === "naive") args.normalize = "naive";
    const result = attention(args);
    for (const name of ["scores", "weights", "context"]) {
      const errors = result[name].flatMap((row, i) => row.map((x, j) => x - c[name][i][j]))
        .map(Math.abs);
      const worst = Math.max(0, ...errors.map((e) => (Number.isNaN(e) ? Infinity : e)));
      if (!(worst <= c.tolerance[name])) failures.push(`${c.name}: ${name} off by ${worst}`);
    }
  }
  return { failures, count: vectors.cases.length };
}"""


def test_the_javascript_passes_every_test_vector(watch):
    page = watch("playground/").page
    result = page.evaluate(RUN_VECTORS, [False, None])
    assert result == {"failures": [], "count": len(build_vectors()["cases"])}
    # The check can fail: a tampered expectation, or a mistaken implementation.
    tampered = page.evaluate(RUN_VECTORS, [True, None])["failures"]
    assert len(tampered) == result["count"]
    assert all(": weights off by" in failure for failure in tampered)
    unscaled = page.evaluate(RUN_VECTORS, [False, "no scale"])["failures"]
    assert "worked-example-scaled: weights" in " ".join(unscaled)
    naive = page.evaluate(RUN_VECTORS, [False, "naive"])["failures"]
    assert {f.split(":")[0] for f in naive} >= {"shifted-up-1000", "shifted-down-1000"}


def test_the_site_offers_the_vectors_the_command_writes(site_url):
    with urlopen(urljoin(site_url, "assets/attention-ref-vectors.json")) as response:
        assert response.read().decode("utf-8") == to_json(build_vectors()) + "\n"
    with urlopen(urljoin(site_url, "test-vectors/")) as response:
        page = response.read().decode("utf-8")
    assert 'href="../assets/attention-ref-vectors.json"' in page


FORMAT = """async (values) => {
  const { fixed, exponential, show } = await import("/assets/javascripts/playground/format.js");
  return values.map((text) => {
    const x = Number(text);
    return [0, 2, 4].map((d) => [fixed(x, d), exponential(x, d), show(x, d)]);
  });
}"""


def test_numbers_are_written_as_python_writes_them(watch):
    # Ties (0.125 to 2 digits, 123465 to 4), carries, subnormals, huge and negative values.
    values = [
        0.125, 0.375, 0.03125, 0.09375, 2.5, 3.5, 0.5, 1.5, -0.00001, -0.0, 0.0, 1e-320,
        5e-324, 123465.0, 123455.0, 99999.99996, 9.99995, 1e22, 1.7976931348623157e308,
        0.1, 0.2379, -1234.56789, 1e5, 99999.99999, 2.675, 1.0000500000000001, float("nan"),
        float("inf"), float("-inf"),
    ]  # fmt: skip
    page = watch("playground/").page
    written = page.evaluate(
        FORMAT, [repr(v).replace("nan", "NaN").replace("inf", "Infinity") for v in values]
    )
    expected = [[[f"{v:.{d}f}", f"{v:.{d}e}", show(v, d)] for d in (0, 2, 4)] for v in values]
    assert written == expected


# Keyboard, labels, contrast -------------------------------------------------------------

# The name of a control: its aria-label, else its <label>, else its text.
NAME = """const nameOf = (el) =>
  (el.getAttribute("aria-label") || (el.labels && el.labels[0] && el.labels[0].textContent)
   || el.textContent || "").trim();
const controls = (root) => [...root.querySelectorAll("input, select, button, summary")];"""

FOCUS = f"""() => {{
  {NAME}
  const el = document.activeElement;
  const root = document.querySelector('[data-attention-widget="playground"]');
  const style = getComputedStyle(el);
  const outline = style.outlineStyle === "none" ? 0 : parseFloat(style.outlineWidth);
  return {{ inside: root.contains(el), type: el.type || "", name: nameOf(el), outline,
           order: controls(root).indexOf(el) }};
}}"""

# Every enabled control as [its name, whether Tab should reach it]: Tab visits one radio of
# a group, the checked one.
CONTROLS = f"""(root) => {{
  {NAME}
  return controls(document.querySelector(root)).filter((el) => !el.disabled)
    .map((el) => [nameOf(el), el.type !== "radio" || el.checked]);
}}"""


def test_the_keyboard_reaches_every_control_in_reading_order_with_visible_focus(watch):
    page = watch("playground/").page
    controls = page.evaluate(CONTROLS, PLAYGROUND)
    assert all(name for name, _ in controls), f"a control without a label: {controls}"
    page.get_by_label("Token 1, name").focus()
    page.keyboard.press("Shift+Tab")  # from just before the widget, as a reader tabbing in
    page.keyboard.press("Tab")
    seen = []
    while (focus := page.evaluate(FOCUS))["inside"]:
        assert focus["outline"] >= 2, f"no visible focus on {focus}"
        seen.append(focus)
        page.keyboard.press("Tab")
    orders = [f["order"] for f in seen]
    assert orders == sorted(orders), "Tab does not follow the reading order"
    assert [f["name"] for f in seen] == [name for name, tabbed in controls if tabbed]
    assert sum(f["type"] == "radio" for f in seen) == 2  # one stop per group of choices

    # Operate it by keyboard alone: naive softmax, the causal mask, a new token.
    page.get_by_label("stable softmax").focus()
    page.keyboard.press("ArrowDown")
    assert page.get_by_label("naive softmax").is_checked()
    page.get_by_label("Causal mask").focus()
    page.keyboard.press("Space")
    assert page.get_by_label("Causal mask").is_checked()
    page.get_by_role("button", name="Add a token").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ControlOrMeta+A")  # the new token's name field has the focus
    page.keyboard.type("road")
    assert page.get_by_label("Token 7, name").input_value() == "road"
    model = Model(
        tokens=[*TOKENS, "road"], inputs=[*INPUTS.tolist(), [0.5] * 3], normalize="naive",
        causal=True,
    )  # fmt: skip
    assert mismatches(page, model) == []
    # Removing a token leaves the focus on the next remove button, not lost on the page.
    page.get_by_role("button", name="Remove starts").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Remove with"


CELL_CONTRAST = """() => {
  const rgb = (css) => css.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((c) => c / 255)
    .map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  return [...document.querySelectorAll(".ar-heatmap td[data-quantity]")].map((td) => {
    const style = getComputedStyle(td);
    const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))].sort((x, y) => y - x);
    return [td.textContent, style.backgroundColor, (a + 0.05) / (b + 0.05)];
  });
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_heatmap_numbers_contrast_with_their_cells(watch, scheme):
    page = watch("playground/", color_scheme=scheme).page
    for state in ("example", "sum"):
        if state == "sum":  # negative weights and weights above 1: the colour map's ends
            page.get_by_label("divide by the sum").check()
            type_into(page, "starts, dimension 1", "-2")
        cells = page.evaluate(CELL_CONTRAST)
        assert len(cells) == 36
        assert len({background for _, background, _ in cells}) > 5  # a colour map, not one colour
        low = [(text, ratio) for text, _, ratio in cells if ratio < 4.5]
        assert low == [], f"{scheme}, {state}"


def test_the_widgets_follow_the_colour_scheme(watch):
    """Switching the scheme with Material's toggle recolours the heatmap without a reload."""
    page = watch("playground/", color_scheme="light").page
    cell = page.locator(f"{PLAYGROUND} .ar-heatmap td[data-quantity]").first
    light = cell.evaluate("el => getComputedStyle(el).backgroundColor")
    page.locator("label.md-header__button[for^='__palette']:visible").first.click()
    page.wait_for_function("document.body.dataset.mdColorScheme === 'slate'")
    dark = cell.evaluate("el => getComputedStyle(el).backgroundColor")
    assert light != dark


# The widgets of the story pages -------------------------------------------------------------


def test_step_2_widget_shows_three_normalisations_and_the_overflow(watch):
    page = watch("weights/").page
    root = '[data-attention-widget="softmax"]'
    scores = attention_scores(INPUTS, query=1)

    def expect(values: np.ndarray) -> None:
        shown = displayed(page, root)
        with np.errstate(over="ignore", invalid="ignore"):
            wanted = {
                "stable": softmax(values),
                "naive": softmax_naive(values),
                "sum": normalize_sum(values),
            }
        for quantity, weights in wanted.items():
            cells = shown[quantity]
            assert all(shows(cells[(j, None)], w) for j, w in enumerate(weights)), quantity
            assert shows(shown[f"{quantity}-sum"][(None, None)], weights.sum()), quantity

    expect(scores)
    page.get_by_label("Added to every score").fill("1000")
    expect(scores + 1000)
    widget = page.locator(root)
    assert widget.locator(".ar-flag").inner_text().lower() == "overflow"
    assert "Overflow." in widget.inner_text()
    assert set(displayed(page, root)["naive"].values()) == {"nan"}
    page.get_by_label("Added to every score").fill("-1000")
    expect(scores - 1000)
    assert widget.locator(".ar-flag").inner_text().lower() == "underflow"
    page.get_by_role("button", name="Reset").click()
    page.get_by_label("Score of one", exact=True).fill("-3")
    changed = scores.copy()
    changed[4] = -3.0
    expect(changed)
    page.get_by_label("Drag the score of step").focus()
    page.keyboard.press("End")  # dragged to the top of the slider: 5
    changed[5] = 5.0
    expect(changed)
    assert widget.locator(".ar-flag").count() == 0


def test_scaling_widget_matches_python_at_every_d_k(watch):
    page = watch("trainable/scaling/").page
    root = '[data-attention-widget="scaling"]'
    rng = np.random.default_rng(5)  # the draw the widget states
    query, keys = rng.standard_normal(1024), rng.standard_normal((6, 1024))
    assert "default_rng(5)" in page.locator(root).inner_text()
    slider = page.get_by_label("d_k, the length of the query and keys")
    slider.focus()
    for key, d_k in [
        (None, 64),
        ("ArrowRight", 128),
        ("End", 1024),
        ("Home", 1),
        ("ArrowRight", 2),
    ]:
        if key:
            page.keyboard.press(key)
        assert f"d_k = {d_k}" in page.locator(root).inner_text()
        scores = keys[:, :d_k] @ query[:d_k]  # (6,)
        shown = displayed(page, root)
        for quantity, values, digits in [
            ("scaling-scores", scores, 2),
            ("unscaled", softmax(scores), 4),
            ("scaled", softmax(scores / np.sqrt(d_k)), 4),
        ]:
            assert all(shows(shown[quantity][(j, None)], v) for j, v in enumerate(values)), (
                d_k,
                quantity,
            )
            assert len(shown[quantity][(0, None)].split(".")[1]) == digits
        assert shows(shown["unscaled-sum"][(None, None)], softmax(scores).max())


# Instant navigation ------------------------------------------------------------------------


def test_instant_navigation_mounts_each_widget_once(watch):
    page = watch("", widget=False).page
    page.evaluate("window.sameDocument = true")  # gone if a page reloads
    for link, widget in [
        ("Attention playground", "playground"),
        ("Step 2: attention weights", "softmax"),
        ("Why divide by √dₖ", "scaling"),
        ("Attention playground", "playground"),
    ]:
        page.locator("nav.md-nav--primary").get_by_role("link", name=link, exact=True).first.click()
        page.wait_for_selector(f'[data-attention-widget="{widget}"][data-mounted] .ar-bars')
        assert page.evaluate("window.sameDocument") is True, link
        assert page.locator(f'[data-attention-widget="{widget}"]').count() == 1
        assert page.locator(f'[data-attention-widget="{widget}"] .ar-bars').count() == 1
    page.go_back()  # also without a reload
    page.wait_for_selector('[data-attention-widget="scaling"][data-mounted] .ar-bars')
    assert page.evaluate("window.sameDocument") is True
    assert page.locator('[data-attention-widget="scaling"] .ar-bars').count() == 1
