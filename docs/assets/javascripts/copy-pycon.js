// Material's copy button copies a block's text as shown. For interactive sessions
// (```pycon blocks) that would include the ">>> " prompts and the printed output,
// which do not run when pasted. Material copies an ancestor's data-copy attribute
// instead when there is one, so give each pycon block the code alone.
document$.subscribe(({ body }) => {
  for (const code of body.querySelectorAll(".language-pycon code")) {
    const source = [];
    for (const line of code.textContent.split("\n")) {
      if (line.startsWith(">>> ") || line === ">>>") source.push(line.slice(4));
      else if (line.startsWith("... ") || line === "...") source.push(line.slice(4));
    }
    code.dataset.copy = source.join("\n") + "\n";
  }
});
