"""The one rule a question must pass before it is answered, and what a refusal says.

The pipeline, the CLI and the HTTP request model all apply :func:`check_question`, so a
question is accepted or refused the same way everywhere. The limit counts the characters
as sent, which is what the API's schema (``maxLength``) promises its clients.

>>> check_question("  古文化街\\n被誉为什么？ ")
'古文化街 被誉为什么？'
"""

from __future__ import annotations

MAX_QUESTION_CHARS = 1000


class QuestionError(ValueError):
    """The question cannot be asked (empty, too long).

    ``str(error)`` is the English reason; :attr:`detail` adds the Chinese words a person
    reading the HTTP answer sees first.
    """

    def __init__(self, reason: str, said: str) -> None:
        super().__init__(reason)
        self.detail = f"{said}（{reason}）"


def check_question(question: str | None) -> str:
    """The question with its whitespace runs collapsed, or :class:`QuestionError`."""
    sent = question or ""
    q = " ".join(sent.split())
    if not q:
        raise QuestionError("the question is empty", "问题不能为空")
    if len(sent) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"the question is too long ({len(sent)} characters; the limit is {MAX_QUESTION_CHARS})",
            f"问题太长，最多 {MAX_QUESTION_CHARS} 个字",
        )
    return q
