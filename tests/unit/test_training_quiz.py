"""Lessons and quizzes as data (45 CFR 164.308(a)(5)): every shipped lesson is well formed, scoring, answers files."""

from __future__ import annotations

from pathlib import Path

import pytest

from radguard.catalog import is_known
from radguard.errors import UsageError
from radguard.govern.training import lesson, lessons, lessons_for, parse_quiz_answers, programme, score

IMAGING_TOPICS = {"phishing", "pacs-credentials", "outside-media", "phi-handling", "ransomware-reporting", "downtime",
                  "reading-room", "suspicious-image"}


def test_the_shipped_lessons_cover_the_imaging_topics_and_are_well_formed() -> None:
    got = {x.id: x for x in lessons()}
    assert set(got) >= IMAGING_TOPICS
    for les in got.values():
        assert les.questions and 0 < les.pass_mark <= 1 and les.interval_days > 0, les.id
        assert len({q.id for q in les.questions}) == len(les.questions), les.id
        for q in les.questions:
            assert q.answer <= set(q.choices) and len(q.choices) >= 2, (les.id, q.id)
        assert all(is_known(ref) for ref in les.controls), les.id
    assert all(is_known(ref) for ref in programme().controls)
    assert {"hipaa:164.308(a)(5)", "cpg:ESS-04"} <= set(programme().controls)


def test_audience_by_role() -> None:
    everyone = {x.id for x in lessons() if "all" in x.audience}
    assert {x.id for x in lessons_for("billing")} == everyone
    assert {x.id for x in lessons_for("Technologist")} == everyone | {"downtime", "suspicious-image"}
    assert {x.id for x in lessons_for("radiologist")} == everyone | {"downtime", "suspicious-image", "reading-room"}


def test_scoring_and_pass_mark() -> None:
    les = lesson("phishing")
    right = {q.id: q.answer for q in les.questions}
    full = score(les, right)
    assert (full.score, full.total, full.passed, full.wrong) == (4, 4, True, ())
    one_wrong = score(les, {**right, "q1": frozenset({"a"})})
    assert (one_wrong.score, one_wrong.percent, one_wrong.passed, one_wrong.wrong) == (3, 75, True, ("q1",))
    # choose-all-that-apply counts only with exactly the right set
    two_wrong = score(les, {**right, "q1": frozenset({"a"}), "q2": frozenset({"a", "b"})})
    assert (two_wrong.score, two_wrong.passed) == (2, False)


def test_parse_an_answer() -> None:
    multi = lesson("phishing").questions[1]
    assert multi.multiple and multi.parse("c, a b") == frozenset({"a", "b", "c"})
    single = lesson("phishing").questions[0]
    assert single.parse(" C ") == frozenset({"c"})
    for bad, msg in (("z", "not a choice"), ("a, b", "one answer only"), ("", "expected one of")):
        with pytest.raises(ValueError, match=msg):
            single.parse(bad)
    with pytest.raises(UsageError, match="unknown lesson 'nope'"):
        lesson("nope")


def test_answers_file(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    f.write_text("lesson: phishing\nanswers:\n  q1: c\n  q2: [a, b, c]\n  q3: b\n  q4: b\n")
    got = parse_quiz_answers(f, lesson("phishing"))
    assert score(lesson("phishing"), got).score == 4


@pytest.mark.parametrize(("text", "where", "what"), [
    ("answers:\n  q1: c\n  q2: [a, b\n", ":4:", "not valid YAML"),
    ("answers:\n  q1: c\n  q9: a\n", ":3:", "unknown question 'q9'"),
    ("answers:\n  q1: x\n", ":2:", "'x' is not a choice"),
    ("answers:\n  q1: c\n  q2: a\n  q3: b\n", ":1:", "question 'q4' not answered"),
    ("lesson: downtime\nanswers: {}\n", ":1:", "not 'phishing'"),
    ("answers:\n  q1: c\n  q1: c\n", ":3:", "answered twice"),
    ("who: x\n", ":1:", "unknown key 'who'"),
])
def test_a_malformed_answers_file_names_the_line(tmp_path: Path, text: str, where: str, what: str) -> None:
    f = tmp_path / "a.yaml"
    f.write_text(text)
    with pytest.raises(UsageError) as exc:
        parse_quiz_answers(f, lesson("phishing"))
    assert f"{f}{where}" in str(exc.value) and what in str(exc.value)
