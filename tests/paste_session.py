"""Paste code blocks into a fresh classic Python prompt, as a reader does; report problems.

Run by tests/test_paste.py as ``python paste_session.py`` in a fresh process (so every
session starts from a new interpreter, with numpy's default print options), with a JSON
list of blocks on standard input, each ``{"where": ..., "language": "python" | "pycon",
"copied": copy-button text, "shown": [expected output of each statement]}`` (``shown`` is
null for a ``python`` block, which prints nothing on the page). Prints a JSON list of
problems, empty when every block ran and printed what the page shows.

The prompt is `code.InteractiveConsole`, which reads input as the classic REPL of Python
3.11 does: a compound statement ends at a blank line, so a ``for`` block followed directly
by another statement is a SyntaxError. Each line of the copied text is pushed in turn;
after the last one, the reader presses Enter once more if the prompt still waits for the
end of an indented block (the copy button drops the text's final newline).
"""

from __future__ import annotations

import code
import contextlib
import doctest
import io
import json
import sys
import traceback

FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
TRACEBACK = "Traceback (most recent call last):"


class Console(code.InteractiveConsole):
    """A prompt that records what each statement prints and the exception it raises."""

    def __init__(self) -> None:
        super().__init__(locals={"__name__": "__console__", "__doc__": None})
        self.exception: str | None = None

    def showtraceback(self) -> None:
        kind, value, _ = sys.exc_info()
        self.exception = "".join(traceback.format_exception_only(kind, value))

    def showsyntaxerror(self, filename: str | None = None, **kwargs) -> None:
        kind, value, _ = sys.exc_info()
        self.exception = "".join(traceback.format_exception_only(kind, value))


def paste(console: Console, text: str) -> list[tuple[str, str, str | None]]:
    """Push `text` line by line; return (stdout, stderr, exception) of each statement run."""
    statements = []
    lines = text.split("\n")
    lines += [""] if lines else []  # the reader's Enter, in case a block is still open
    for index, line in enumerate(lines):
        if index == len(lines) - 1 and not console.buffer:
            break  # nothing open: the extra Enter would do nothing
        pending = bool(console.buffer) or bool(line.strip())
        out, err = io.StringIO(), io.StringIO()
        console.exception = None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            more = console.push(line)
        if not more and pending:  # a statement was complete and ran
            statements.append((out.getvalue(), err.getvalue(), console.exception))
    return statements


def expected_exception(shown: str) -> str | None:
    """The exception line(s) of a shown traceback, as doctest compares them; else None."""
    lines = shown.splitlines()
    if not lines or lines[0].strip() != TRACEBACK:
        return None
    body = lines[1:]
    while body and (body[0].startswith((" ", "\t")) or body[0].strip() == "..."):
        body = body[1:]  # the stack, usually shown as an indented "..."
    return "\n".join(body) + "\n"


def check_block(console: Console, block: dict) -> list[str]:
    """Paste one block; return what went wrong, each prefixed with where the block is."""
    where = block["where"]
    ran = paste(console, block["copied"])
    shown = block["shown"]
    checker = doctest.OutputChecker()
    problems = []
    if shown is None:  # a python block: it must run silently
        for out, err, exception in ran:
            if exception:
                problems.append(f"{where}: raised {exception.strip()}")
            elif out or err:
                problems.append(f"{where}: printed {out + err!r}, the page shows nothing")
        return problems
    if len(ran) != len(shown):
        problems.append(
            f"{where}: the copied text ran as {len(ran)} statements, the page shows "
            f"{len(shown)}; outputs: {[out + err + (exc or '') for out, err, exc in ran]}"
        )
    for number, ((out, err, exception), want) in enumerate(zip(ran, shown, strict=False), 1):
        label = f"{where}, statement {number}"
        wanted_exception = expected_exception(want)
        if wanted_exception is not None:
            if exception is None or not checker.check_output(wanted_exception, exception, FLAGS):
                problems.append(f"{label}: expected {wanted_exception.strip()!r}; {exception=}")
        elif exception is not None:
            problems.append(f"{label}: raised {exception.strip()}")
        elif err:
            problems.append(f"{label}: printed to stderr {err!r}")
        elif not checker.check_output(want, out, FLAGS):
            problems.append(f"{label}: printed {out!r}, the page shows {want!r}")
    return problems


def main() -> None:
    """Read the blocks of one reader's session, paste them in order, print the problems."""
    blocks = json.load(sys.stdin)
    console = Console()
    problems = []
    for block in blocks:
        problems += check_block(console, block)
    sys.__stdout__.write(json.dumps(problems))


if __name__ == "__main__":
    main()
