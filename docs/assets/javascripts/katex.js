// Render the math that pymdownx.arithmatex (generic mode) leaves in the page.
// Hooked to Material's document$ so it runs again after each instant navigation.
// Errors are thrown, not swallowed: the site test fails on any console error.
document$.subscribe(({ body }) => {
  for (const element of body.querySelectorAll(".arithmatex")) {
    if (element.dataset.rendered) continue;
    const display = element.tagName === "DIV";
    // arithmatex wraps inline math in \( \) and display math in \[ \]
    const tex = element.textContent.trim().slice(2, -2);
    katex.render(tex, element, { displayMode: display, throwOnError: true });
    element.dataset.rendered = "true";
  }
});
