"""A tutorial read from Markdown: its title and the steps its fenced blocks hold.

A lesson is ordinary Markdown. Its fenced blocks whose info string starts with `sh` are
commands, run in order in one shell session (variables carry from block to block, as in a
reader's terminal). A block that follows a command with the word `output` in its info string
is what that command prints:

    ```sh
    curl -s $API/types -H "$TENANT"
    ```

    ```json output
    {"id": "...", "type": "EntityTypeList", "typeList": ["Vehicle"]}
    ```

`terminal=NAME` runs a command in a terminal of its own, in the background (a notification
receiver, a device listening for commands); an `output terminal=NAME` block is what that
terminal has printed since its last checked output, waited for. `sh norun` blocks are shown,
never run; other blocks (payload examples, JSON the text explains) are prose.

Output blocks are `json` (one or more JSON values, see `expected.py` for `...`), `http`
(a status line, the headers that matter and an optional body, as `curl -i` prints them) or
`text` (lines; a line `...` stands for any number of lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dalgu.errors import BadRequestData

OutputKind = Literal["json", "http", "text"]
_OUTPUT_KINDS: tuple[OutputKind, ...] = ("json", "http", "text")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")


@dataclass(frozen=True, slots=True)
class Command:
    """Shell code to run; `terminal` names a background terminal, None the main one."""

    code: str
    line: int
    terminal: str | None = None


@dataclass(frozen=True, slots=True)
class Output:
    """What a command (or a background terminal) prints, as the lesson shows it."""

    kind: OutputKind
    text: str
    line: int
    terminal: str | None = None


Step = Command | Output


@dataclass(frozen=True, slots=True)
class Lesson:
    name: str
    title: str
    steps: tuple[Step, ...]

    @property
    def commands(self) -> int:
        return sum(isinstance(step, Command) for step in self.steps)


@dataclass(frozen=True, slots=True)
class _Block:
    info: list[str]
    text: str
    line: int


def read_lesson(path: Path) -> Lesson:
    """The lesson in `path`; BadRequestData says where a lesson is malformed."""
    return parse_lesson(path.stem, path.read_text(encoding="utf-8"))


def parse_lesson(name: str, markdown: str) -> Lesson:
    title = name
    for line in markdown.splitlines():
        if line.startswith("# "):
            title = line[2:].strip()
            break
    steps: list[Step] = []
    last_command: Command | None = None
    for block in _blocks(name, markdown):
        if not block.info:
            continue
        language, words = block.info[0], block.info[1:]
        terminal = _terminal(words)
        if language in ("sh", "bash") and "norun" not in words:
            last_command = Command(block.text, block.line, terminal)
            steps.append(last_command)
        elif "output" in words:
            if language not in _OUTPUT_KINDS:
                raise BadRequestData(
                    f"{name}:{block.line}: an output block is json, http or text, not {language!r}"
                )
            if terminal is None and last_command is None:
                raise BadRequestData(f"{name}:{block.line}: an output block before any command")
            kind: OutputKind = language
            steps.append(Output(kind, block.text, block.line, terminal))
    return Lesson(name, title, tuple(steps))


def _terminal(words: list[str]) -> str | None:
    for word in words:
        if word.startswith("terminal="):
            value = word.removeprefix("terminal=")
            if value:
                return value
    return None


def _blocks(name: str, markdown: str) -> list[_Block]:
    """Fenced code blocks (CommonMark: a closing fence of the same character, at least as long)."""
    blocks: list[_Block] = []
    lines = markdown.splitlines()
    n = 0
    while n < len(lines):
        opening = _FENCE.match(lines[n])
        if opening is None:
            n += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        start, body = n + 1, []
        n += 1
        while n < len(lines):
            closing = _FENCE.match(lines[n])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            body.append(lines[n][indent:] if lines[n][:indent].isspace() else lines[n])
            n += 1
        else:
            raise BadRequestData(f"{name}:{start}: a fenced block that is never closed")
        blocks.append(_Block(opening["info"].split(), "\n".join(body), start))
        n += 1
    return blocks
