"""Workforce training in a real PostgreSQL store (migration 0005_training): roster, completions, a GoPhish
campaign imported twice, the status that feeds govern status, and the migration down and up again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from radguard.govern.status import govern_status
from radguard.govern.training import lesson, lessons_for, score
from radguard.govern.training_phish import import_campaign, parse_campaign, report
from radguard.govern.training_roster import Person, import_roster, people, record_completion
from radguard.govern.training_status import summary
from radguard.store import open_store
from tests.support.gophish import Target, campaign_results, results_json

pytestmark = pytest.mark.integration

ROSTER = [Person(id="ct-01", name="Ann", role="technologist", department="CT", email="ann@example.org"),
          Person(id="rd-01", name="Bob", role="radiologist", department="Reading", email="bob@example.org")]


def test_training_in_postgres(postgres_url: str, tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from radguard.store.api import _MIGRATIONS

    store = open_store(postgres_url)
    try:
        import_roster(store, ROSTER)
        when = datetime.now(UTC) - timedelta(days=2)
        for p in ROSTER:
            for les in lessons_for(p.role):
                record_completion(store, p, score(les, {q.id: q.answer for q in les.questions}), "file", when)
        record_completion(store, ROSTER[0], score(lesson("phishing"), {}), "terminal")
        f = tmp_path / "r.json"
        f.write_text(results_json(campaign_results(5, "Q1", [Target("ann@example.org", "A", "T", "", "clicked"),
                                                             Target("bob@example.org", "B", "R", "", "sent",
                                                                    reported=True)])))
        import_campaign(store, parse_campaign(f))
        assert import_campaign(store, parse_campaign(f))[1] is True  # replaced, not doubled
        rep = report(store, people(store))
        assert rep is not None and rep.total.recipients == 2 and rep.departments["CT"]["clicked"] == 1
        st = summary(store)
        assert st.current == 2 and st.completion_rate == 1.0 and st.phishing is not None
        assert st.trained_as_of is not None and abs((st.trained_as_of - when).total_seconds()) < 1
        ess = {c.ref: c for c in govern_status(store, ("cpg",)).controls}["cpg:ESS-04"]
        assert ess.evidence[0].kind == "training" and ess.state.value == "partial"  # 50% clicked

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004_govern")
        assert "training_people" not in inspect(store.engine).get_table_names()
    finally:
        store.close()
    again = open_store(postgres_url)
    try:
        assert people(again) == []  # brought to the heads again, empty
    finally:
        again.close()
