"""``mediaforge stats``: its --since and its refusals (its numbers are checked
against the job database and /metrics in tests/serve/test_live.py)."""

from __future__ import annotations

from tests.mfcli import Mediaforge


def test_stats_refuses_a_since_it_cannot_read(mf: Mediaforge) -> None:
    done = mf("stats", "--since", "soon")

    assert done.code == 2
    assert done.error_lines() == [
        "Error: --since: 'soon' is neither a span like 12h or 7d nor a date like 2026-01-31"
    ]
    assert (
        mf.ok("stats", "--since", "2026-01-31", "--json").json()["since"].startswith("2026-01-31")
    )
