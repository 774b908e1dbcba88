"""Student notebooks (tools/student.py, make student): the solutions go, the lesson stays."""

import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import student  # noqa: E402

CHAPTERS = student.chapters()


def notebook(*cells):
    return new_notebook(cells=list(cells))


def lesson_code(source, text):
    return new_code_cell(source, execution_count=1,
                         outputs=[new_output("stream", name="stdout", text=text)])


def answers(nb):
    return [c for c in nb.cells if student.ANSWER_TAG in c.metadata.get("tags", [])]


def test_gated_solution_becomes_one_empty_answer_cell():
    nb = notebook(
        new_markdown_cell("# Title\n\nSome lesson."),
        lesson_code("x = 2\nprint(x)", "2\n"),
        new_markdown_cell("```{exercise} Double it\n:label: ch01-ex1\n\nDouble `x`.\n```"),
        new_markdown_cell("```{solution-start} ch01-ex1\n:class: dropdown\n```"),
        lesson_code("y = 2 * x\nassert y == 4", ""),
        new_markdown_cell("```{solution-end}\n```"),
        lesson_code("print('after')", "after\n"),
    )
    out = student.strip_solutions(nb)
    nbformat.validate(out)
    assert [c.cell_type for c in out.cells] == ["markdown", "code", "markdown", "code", "code"]
    [answer] = answers(out)
    assert answer is out.cells[3]
    assert answer.source == "" and answer.outputs == [] and answer.metadata["exercise"] == "ch01-ex1"
    assert answer.id == "answer-1-ch01-ex1"                 # the same file on every run
    assert out.cells[1].outputs == nb.cells[1].outputs     # lesson outputs kept
    assert out.cells[4].source == "print('after')"
    assert "2 * x" not in nbformat.writes(out)
    assert len(nb.cells) == 7                               # the input is left alone


def test_solution_end_that_ends_a_prose_cell_takes_the_prose_with_it():
    nb = notebook(
        new_markdown_cell("Exercise text.\n\n```{solution-start} ex2\n:class: dropdown\n```\n"
                          "The first part of the worked answer."),
        lesson_code("secret = 41 + 1", ""),
        new_markdown_cell("So the answer is forty-two, because of the cell above.\n\n"
                          "```{solution-end}\n```\n\nBack to the lesson."),
    )
    out = student.strip_solutions(nb)
    text = nbformat.writes(out)
    for gone in ("worked answer", "secret", "forty-two", "{solution"):
        assert gone not in text
    assert [c.source for c in out.cells] == ["Exercise text.", "", "Back to the lesson."]
    assert len({c.id for c in out.cells}) == 3
    nbformat.validate(out)


def test_colon_fences_and_a_whole_solution_directive_with_a_fence_inside():
    nb = notebook(
        new_markdown_cell(":::{solution-start} ex3\n:::\nHint inside.\n:::{solution-end}\n:::\nAfter."),
        new_markdown_cell("Before.\n\n````{solution} ex4\n:class: dropdown\n\nWrite\n\n```python\n"
                          "z = 3\n```\n\nand you are done.\n````\n\nAfter four."),
    )
    out = student.strip_solutions(nb)
    sources = [c.source for c in out.cells]
    assert sources == ["", "After.", "Before.", "", "After four."]
    assert [c.metadata.get("exercise") for c in answers(out)] == ["ex3", "ex4"]
    assert "z = 3" not in nbformat.writes(out) and "Hint" not in nbformat.writes(out)


@pytest.mark.parametrize("cells, message", [
    (["```{solution-end}\n```"], "no {solution-start}"),
    (["```{solution-start} a\n```", "```{solution-start} b\n```"], "inside the solution of a"),
    (["```{solution-start} a\n```", "Text."], "the solution of a has no {solution-end}"),
])
def test_unpaired_directives_are_errors_that_name_the_place(cells, message):
    nb = notebook(*map(new_markdown_cell, cells))
    with pytest.raises(student.SolutionError, match=f"ch99.ipynb.*{message}"):
        student.strip_solutions(nb, "ch99.ipynb")


def split_lines(nb):
    """Lesson and solution lines, and the lesson's code cells, by a plain scan for the markers.

    This is the test's own reading of the chapter, line by line and without the
    tool's parser: a solution runs from the line that holds `{solution-start}`
    to the line that holds `{solution-end}`, across cells.
    """
    inside, lesson, solution, code = False, set(), set(), []
    for cell in nb.cells:
        if cell.cell_type == "code":
            (solution if inside else lesson).update(line.strip() for line in cell.source.splitlines())
            if not inside:
                code.append((cell.source, cell.outputs))
            continue
        for line in cell.source.splitlines():
            if "{solution-start}" in line:
                inside = True
            (solution if inside else lesson).add(line.strip())
            if "{solution-end}" in line:
                inside = False
    return lesson, solution, code


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return dict(zip(CHAPTERS, student.write_student_notebooks(CHAPTERS, out)))


def test_there_are_chapters_with_solutions():
    assert CHAPTERS
    for path in CHAPTERS:
        lesson, solution, _ = split_lines(nbformat.read(path, as_version=4))
        assert solution - lesson, f"{path.name} has no solution to remove"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_keeps_its_lesson_and_loses_every_solution(chapter, written):
    original = nbformat.read(chapter, as_version=4)
    copy = nbformat.read(written[chapter], as_version=4)
    nbformat.validate(copy)
    assert "{solution" not in nbformat.writes(copy)

    starts = sum(c.source.count("{solution-start}") for c in original.cells)
    assert len(answers(copy)) == starts
    assert all(c.source == "" and not c.outputs for c in answers(copy))

    lesson, solution, lesson_code = split_lines(original)
    solution_only = {line for line in solution - lesson if len(line) > 8}
    kept = {line.strip() for c in copy.cells for line in c.source.splitlines()}
    assert not solution_only & kept
    assert {line for line in lesson if "{exercise}" in line} <= kept

    copy_code = [(c.source, c.outputs) for c in copy.cells
                 if c.cell_type == "code" and student.ANSWER_TAG not in c.metadata.get("tags", [])]
    assert copy_code == lesson_code


def test_the_book_data_folders_are_copied_beside_the_notebooks(written):
    out = next(iter(written.values())).parent
    for folder in (ROOT / "book").iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            assert sorted(p.name for p in (out / folder.name).iterdir()) == \
                sorted(p.name for p in folder.iterdir() if p.name != ".ipynb_checkpoints")


@pytest.mark.slow
def test_a_student_notebook_runs_from_top_to_bottom_where_it_is_written(tmp_path):
    from nbclient import NotebookClient

    chapter = ROOT / "book" / "04_backprop.ipynb"   # small, and runs in seconds
    [path] = student.write_student_notebooks([chapter], tmp_path)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code" and c.source)
