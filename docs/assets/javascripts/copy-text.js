// What the copy button of a code block gives, so that it runs where a reader pastes it:
// a plain Python prompt (the classic REPL of Python 3.11), a notebook or a script.
//
// Material's copy button copies the `data-copy` attribute of the code when it has one,
// else the code as shown (and drops the trailing newline either way).
// - ```python blocks are copied as shown: they are written to run as pasted (a blank line
//   after each indented block, none inside one), and tests/test_paste.py checks it.
// - ```pycon blocks (interactive sessions) get a `data-copy` of their code alone: the
//   ">>> " and "... " prompts and the printed output are dropped, and each statement of
//   more than one line is followed by a blank line, which the classic prompt needs to end
//   an indented block before the next statement (elsewhere a blank line is harmless).
// The <BLANKLINE> a doctest writes for an empty line of output is shown as an empty line.
document$.subscribe(({ body }) => {
  for (const code of body.querySelectorAll(".language-pycon code")) {
    code.dataset.copy = sessionCode(code.textContent);
    for (const output of code.querySelectorAll(".go")) {
      if (output.textContent === "<BLANKLINE>") output.textContent = "";
    }
  }
});

function sessionCode(session) {
  const statements = [];  // each one a list of lines, prompts removed
  let inSource = false;  // as in doctest, "..." continues a statement only before its output
  for (const line of session.split("\n")) {
    if (line.startsWith(">>> ") || line === ">>>") {
      statements.push([line.slice(4)]);
      inSource = true;
    } else if (inSource && (line.startsWith("... ") || line === "...")) {
      statements[statements.length - 1].push(line.slice(4));
    } else {
      inSource = false;
    }
  }
  return statements
    .map((lines) => lines.join("\n") + (lines.length > 1 ? "\n" : ""))
    .join("\n");
}
