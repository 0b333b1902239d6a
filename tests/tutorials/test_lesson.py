"""Reading a lesson's Markdown into commands and the output it shows."""

from __future__ import annotations

import pytest

from dalgu.errors import BadRequestData
from dalgu.tutorial.lesson import Command, Output, parse_lesson

LESSON = """# 9. A lesson

Prose, and a payload that is only shown:

```json
{"not": "a step"}
```

```sh
echo one
```

```json output
{"a": 1}
```

````sh terminal=receiver
dalgu listen 9090
````

~~~sh norun
rm -rf /
~~~

```text output terminal=receiver
listening
```
"""


def test_commands_and_outputs_in_order() -> None:
    lesson = parse_lesson("09-lesson", LESSON)
    assert lesson.title == "9. A lesson"
    assert lesson.steps == (
        Command("echo one", 9),
        Output("json", '{"a": 1}', 13),
        Command("dalgu listen 9090", 17, "receiver"),
        Output("text", "listening", 25, "receiver"),
    )
    assert lesson.commands == 2


@pytest.mark.parametrize(
    ("markdown", "problem"),
    [
        ("```sh\necho\n", "t:1: a fenced block that is never closed"),
        ("```json output\n{}\n```\n", "t:1: an output block before any command"),
        (
            "```sh\necho\n```\n```yaml output\na: 1\n```\n",
            "t:4: an output block is json, http or text",
        ),
    ],
)
def test_malformed_lessons_say_where(markdown: str, problem: str) -> None:
    with pytest.raises(BadRequestData, match=problem):
        parse_lesson("t", markdown)
