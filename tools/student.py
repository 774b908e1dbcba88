"""Write the chapters without their worked solutions, for students, to _build/student/."""

import argparse
import copy
import re
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
OUT = ROOT / "_build" / "student"

# One sphinx-exercise directive: `{solution-start}` / `{solution-end}` (the
# gated pair) or a whole `{solution}`, fenced with backticks or colons. The
# closing fence is the opening one again, so fences nested inside (shorter,
# or of the other kind) stay part of the directive.
DIRECTIVE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>solution(?:-start|-end)?)\}[ \t]*(?P<label>\S*)[^\n]*\n"
    r"(?:.*?\n)??"
    r"(?P=fence)[ \t]*(?:\n|\Z)",
    re.M | re.S,
)
ANSWER_TAG = "answer"


class SolutionError(ValueError):
    """A chapter's solution directives do not pair up; the message says where."""


def answer_cell(label):
    """The empty code cell that takes a solution's place, tagged with its exercise."""
    cell = nbformat.v4.new_code_cell("")
    cell.metadata["tags"] = [ANSWER_TAG]
    if label:
        cell.metadata["exercise"] = label
    return cell


def strip_solutions(nb, name="notebook"):
    """Remove every worked solution from a notebook, leaving an empty answer cell in its place.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        A chapter; it is not changed.
    name : str
        How to name the notebook in errors.

    Returns
    -------
    nbformat.NotebookNode
        A copy in which each `{solution-start}` ... `{solution-end}` span (the
        directives, the prose around them inside the span, and every cell in
        between) and each whole `{solution}` directive is replaced by one empty
        code cell tagged "answer", whose id (`answer-1-ch01-ex1`) numbers it
        and names its exercise, so the same chapter gives the same file. Prose
        before a solution's start or after its end, in the same Markdown cell,
        stays. Every other cell is kept with its outputs.

    Raises
    ------
    SolutionError
        When a solution starts inside another, ends without starting, or never ends.
    """
    student = copy.deepcopy(nb)
    cells, answers, open_label = [], [], None

    def answer(label):
        answers.append(answer_cell(label))
        answers[-1].id = re.sub(r"[^A-Za-z0-9_-]", "-", f"answer-{len(answers)}-{label}")[:64]
        cells.append(answers[-1])

    def keep(text, cell, piece):
        if text.strip():
            part = copy.deepcopy(cell)
            part.source = text.strip("\n")
            if piece and "id" in part:
                part.id = f"{cell.id}-{piece}"[:64]
            cells.append(part)

    for index, cell in enumerate(student.cells):
        if cell.cell_type != "markdown":
            if open_label is None:
                cells.append(cell)
            continue
        text, position, piece = cell.source, 0, 0
        for match in DIRECTIVE.finditer(text):
            kind, label = match["name"], match["label"]
            where = f"{name}, cell {index}"
            if kind == "solution-end":
                if open_label is None:
                    raise SolutionError(f"{where}: a {{solution-end}} with no {{solution-start}} before it")
                answer(open_label)
                open_label = None
            elif open_label is not None:
                raise SolutionError(f"{where}: {{{kind}}} {label} begins inside the solution of "
                                    f"{open_label}, which has no {{solution-end}} yet")
            else:
                keep(text[position:match.start()], cell, piece)
                piece += 1
                if kind == "solution-start":
                    open_label = label
                else:
                    answer(label)
            position = match.end()
        if open_label is None:
            keep(text[position:], cell, piece)
    if open_label is not None:
        raise SolutionError(f"{name}: the solution of {open_label} has no {{solution-end}}")
    student.cells = cells
    return student


def chapters(book=BOOK):
    """The chapter notebooks, `book/NN_topic.ipynb`, in reading order."""
    return sorted(book.glob("[0-9][0-9]_*.ipynb"))


def write_student_notebooks(paths, out=OUT, book=BOOK):
    """Write a student copy of each chapter to `out`, with the book's data folders beside them.

    The chapters read files relative to their own folder (`results/` holds the
    weights of the long training runs), so every folder of `book/` is copied
    to `out` as well, and the notebooks run where they are written. Files in
    `out` with other names are left alone.

    Returns
    -------
    list of Path
        The notebooks written, one per chapter, under the chapter's file name.
    """
    copies = {path.name: strip_solutions(nbformat.read(path, as_version=4), path.name)
              for path in paths}   # every chapter first, so that an error writes nothing
    out.mkdir(parents=True, exist_ok=True)
    for folder in sorted(p for p in book.iterdir() if p.is_dir() and not p.name.startswith(".")):
        shutil.copytree(folder, out / folder.name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for filename, nb in copies.items():
        nbformat.write(nb, out / filename)
    return [out / filename for filename in copies]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="chapters to convert (default: every book/NN_*.ipynb)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write to (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        written = write_student_notebooks(args.notebooks or chapters(), args.out)
    except SolutionError as err:
        sys.exit(f"make student: {err}")
    for path in written:
        n = sum(ANSWER_TAG in c.metadata.get("tags", []) for c in nbformat.read(path, as_version=4).cells)
        print(f"{path}: {n} answer cells")


if __name__ == "__main__":
    main()
