"""Which questions ask for something their own words do not hold (kb.text.questions)."""

from __future__ import annotations

import pytest

from kb.text.questions import is_open_question

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("question", "open_"),
    [
        ("Boot waits forever when the drive is missing. Which mount option lets it boot?", True),
        ("Roughly how many minutes of downtime should we plan for?", True),
        ("For how long may a soft limit be exceeded?", True),
        ("How do I restore a backup?", True),
        ("用户超出软限制之后还能继续写多久?", True),
        ("Сколько минут простоя нужно заложить?", True),
        ("Can each user have their own crontab?", False),
        ("Is the grace period 7 days or 14 days?", False),
        ("每个用户都有自己的 crontab 吗?", False),
        ("备份保留三十天还是六十天?", False),
        ("Можно ли ограничить доступ к cron?", False),
        ("Is there a way to see which users may use cron?", False),
        ("Tell me the port.", False),
    ],
)
def test_open_questions(question: str, open_: bool) -> None:
    assert is_open_question(question) is open_
