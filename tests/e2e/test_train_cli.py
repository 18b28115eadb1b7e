"""radguard train as a practice runs it: roster import, a lesson taken in a terminal (pexpect on a
pseudo-terminal) and from an answers file, GoPhish results (JSON and CSV export), who is due, and the
training evidence in govern status and the governance report; the CLI contract on bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.cli import json_doc, radguard, usage_error
from tests.support.gophish import Target, campaign_results, results_csv, results_json

ROSTER = ("id,name,role,department,email\n"
          "ct-01,Ann Tech,technologist,CT,ann@example.org\n"
          "rd-01,Bob Rad,radiologist,Reading,bob@example.org\n"
          "fd-01,Cy Desk,front-desk,Front desk,cy@example.org\n")
PHISHING = "lesson: phishing\nanswers:\n  q1: c\n  q2: [a, b, c]\n  q3: b\n  q4: b\n"
Cli = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """``radguard ARGS`` through the same entry point in this process (the machine is shared: a new interpreter
    per call costs a second); a few calls below still run ``radguard`` as its own process."""
    from radguard.cli.main import main

    def run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        rc = main(list(args))
        got = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), rc, got.out, got.err)

    return run


def _roster(tmp_path: Path) -> Path:
    f = tmp_path / "roster.csv"
    f.write_text(ROSTER)
    assert json_doc(radguard(["train", "roster", "import", str(f), "--json"]), "train-roster-import")["added"] == 3
    return f


def _controls(cli: Cli) -> dict[str, dict[str, object]]:
    doc = json_doc(cli(["govern", "status", "--json", "--fail-on", "none"]), "govern-status")
    return {c["ref"]: c for c in doc["controls"]}


def test_training_end_to_end(tmp_path: Path, cli: Cli) -> None:
    _roster(tmp_path)
    answers = tmp_path / "phishing.yaml"
    answers.write_text(PHISHING)
    took = json_doc(cli(["train", "take", "ct-01", "--lesson", "phishing", "--answers", str(answers), "--json"]),
                    "train-take")
    assert (took["score"], took["total"], took["passed"], took["source"]) == (4, 4, True, "file")
    failed = tmp_path / "failed.yaml"
    failed.write_text("answers:\n  q1: a\n  q2: d\n  q3: a\n  q4: b\n")
    assert json_doc(cli(["train", "take", "bob@example.org", "-l", "phishing", "--answers", str(failed),
                              "--json"]), "train-take", rc=1)["passed"] is False

    hist = json_doc(cli(["train", "history", "--json"]), "train-history")["completions"]
    assert [(c["person"], c["lesson"], c["score"], c["passed"]) for c in hist] == [("ct-01", "phishing", 4, True),
                                                                                  ("rd-01", "phishing", 1, False)]
    assert len(json_doc(cli(["train", "history", "rd-01", "--json"]), "train-history")["completions"]) == 1
    assert "not passed" in cli(["train", "history"]).stdout

    doc = campaign_results(12, "Q4 PACS licence", [
        Target("ann@example.org", "Ann", "Tech", "Technologist", "clicked"),
        Target("bob@example.org", "Bob", "Rad", "Radiologist", "opened", reported=True),
        Target("cy@example.org", "Cy", "Desk", "Front desk", "submitted")],
        launched=datetime.now(UTC) - timedelta(days=3))
    js = tmp_path / "campaign-12.json"
    js.write_text(results_json(doc))
    imported = json_doc(cli(["train", "phish", "import", str(js), "--json"]), "train-phish-import")
    assert imported["funnel"]["clicked"] == 2 and imported["departments"]["Front desk"]["submitted"] == 1
    cs = tmp_path / "Q4 PACS licence - Results.csv"
    cs.write_text(results_csv(doc), encoding="utf-8")
    again = json_doc(cli(["train", "phish", "import", str(cs), "--json"]), "train-phish-import")
    assert again["campaign"]["name"] == "Q4 PACS licence" and again["funnel"] == imported["funnel"]
    funnel = json_doc(cli(["train", "phish", "results", "--json"]), "train-phish")
    assert funnel["funnel"]["sent"] == 3 and funnel["funnel"]["rates"]["clicked"] == pytest.approx(0.6667)
    human = cli(["train", "phish", "results"])
    assert human.returncode == 0 and "Front desk" in human.stdout and "submitted" in human.stdout

    out = tmp_path / "reminders"
    due = json_doc(cli(["train", "due", "--json", "--reminders", str(out)]), "train-due", rc=1)
    assert {d["person"] for d in due["due"]} == {"ct-01", "rd-01", "fd-01"}
    assert not any(d["person"] == "ct-01" and d["lesson"] == "phishing" for d in due["due"])
    assert sorted(p.name for p in out.iterdir()) == ["reminder-ct-01.txt", "reminder-fd-01.txt", "reminder-rd-01.txt"]
    assert cli(["train", "due", "--fail-on", "none"]).returncode == 0

    status = json_doc(cli(["train", "status", "--json"]), "train-status")
    assert status["state"] == "not-met" and status["people"] == 3 and status["lessons"]["phishing"]["current"] == 1
    by = _controls(cli)
    for ref in ("hipaa:164.308(a)(5)", "cpg:ESS-04"):
        ev = by[ref]["evidence"][0]  # type: ignore[index]
        assert ev["kind"] == "training" and ev["facts"]["people"] == 3, ev
        assert ev["facts"]["last_campaign"]["click_rate"] == pytest.approx(0.6667)
        assert by[ref]["state"] == "not-met"
    assert "training:" in cli(["govern", "status"]).stdout

    report = json_doc(radguard(["govern", "report", "--out", str(tmp_path / "gov"), "--no-pdf", "--json"]),
                      "govern-report")
    html = Path(report["files"]["governance.html"]).read_text(encoding="utf-8")
    assert "0 of 3 people on the roster are current" in html and "Q4 PACS licence" in html
    assert "Front desk" in html


def test_the_lesson_in_a_terminal(cli: Cli) -> None:
    pexpect = pytest.importorskip("pexpect")
    tmp = Path(os.environ["RADGUARD_DB"].removeprefix("sqlite:///")).parent
    _roster(tmp)
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    cmd = [sys.executable, "-m", "radguard.cli.main", "train", "take", "fd-01", "--lesson", "outside-media"]
    child = pexpect.spawn(cmd[0], cmd[1:], env=env, encoding="utf-8", timeout=60)
    child.expect("Outside studies on CD, DVD and USB")
    child.expect("Outside media are untrusted")
    child.expect("Question 1 of 4")
    child.expect("answer")
    child.sendline("z")  # not a choice: asked again
    child.expect("'z' is not a choice")
    child.sendline("a")
    child.expect("Right.")
    child.expect("Question 2 of 4")
    child.sendline("a")  # wrong
    child.expect("Not quite")
    child.expect("Question 3 of 4")
    child.sendline("b")
    child.expect("Question 4 of 4")
    child.sendline("b")
    child.expect(r"Score 3/4 \(75%\): passed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    status = json_doc(cli(["train", "status", "--json"]), "train-status")
    assert status["lessons"]["outside-media"]["current"] == 1

    child = pexpect.spawn(cmd[0], [*cmd[1:-1], "phishing"], env=env, encoding="utf-8", timeout=60)
    child.expect("Question 1 of 4")
    child.sendline("quit")
    child.expect("nothing recorded")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    again = json_doc(cli(["train", "status", "--json"]), "train-status")
    assert again["lessons"]["phishing"]["current"] == 0


def test_bad_input_is_one_line_naming_the_line(tmp_path: Path, cli: Cli) -> None:
    bad = tmp_path / "roster.csv"
    bad.write_text("id,name,role,department,email\na1,A,tech,CT,a@example.org\na2,B,tech,CT,b-at-example\n")
    assert f"{bad}:3: " in usage_error(radguard(["train", "roster", "import", str(bad), "--json"]))
    assert json_doc(cli(["train", "roster", "list", "--json"]), "train-roster")["people"] == []  # nothing written
    _roster(tmp_path)
    js = tmp_path / "r.json"
    js.write_text('{"id": 1, "name": "x",\n "results": [\n  {"email": "a@example.org", "status": "Email Sent"},\n'
                  '  {"email": "b@example.org"}\n ]}\n')
    assert f"{js}:4: results[1]: missing 'status'" in usage_error(cli(["train", "phish", "import", str(js)]))
    js.write_text('{"results": [\n{"email": "a@example.org",, }]}')
    assert f"{js}:2:" in usage_error(cli(["train", "phish", "import", str(js)]))
    usage_error(cli(["train", "phish", "results"]))  # nothing imported
    usage_error(cli(["train", "take", "ct-01", "--lesson", "nope"]))
    usage_error(cli(["train", "take", "zz-99", "--lesson", "phishing"]))
    usage_error(cli(["train", "take", "ct-01", "--lesson", "phishing", "--json"]))
    ans = tmp_path / "a.yaml"
    ans.write_text("answers:\n  q1: c\n  q2: [a, e]\n")
    assert f"{ans}:3: q2:" in usage_error(cli(["train", "take", "ct-01", "-l", "phishing", "--answers", str(ans)]))
    usage_error(cli(["train", "due", "--fail-on", "sometimes"]))
    usage_error(cli(["train", "roster", "import", str(tmp_path / "missing.csv")]))
