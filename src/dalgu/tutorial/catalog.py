"""Where the shipped lessons are, and finding one by name."""

from __future__ import annotations

from pathlib import Path

from dalgu.errors import ResourceNotFound
from dalgu.tutorial.lesson import Lesson, read_lesson

#: the lessons of a source checkout (the package is installed from it in place)
SHIPPED = Path(__file__).resolve().parents[3] / "docs" / "tutorials"


def lesson_files(directory: Path = SHIPPED) -> list[Path]:
    """The lessons in `directory`, in their order (file names start with their number)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.md") if p.stem[:1].isdigit())


def find_lesson(name: str, directory: Path = SHIPPED) -> Lesson:
    """A lesson by file path, file name, number (`3`, `03`) or name (`temporal`)."""
    path = Path(name)
    if path.suffix == ".md" and path.is_file():
        return read_lesson(path)
    files = lesson_files(directory)
    for file in files:
        number, _, rest = file.stem.partition("-")
        if name in (file.stem, file.name, rest) or (name.isdigit() and int(name) == int(number)):
            return read_lesson(file)
    known = ", ".join(f.stem for f in files) or f"none in {directory}"
    raise ResourceNotFound(f"no lesson {name!r} (lessons: {known})")
