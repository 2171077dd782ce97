"""The HTML report: one self-contained page whose timelines show every session and participant.

The page is read back with ``html.parser`` (no browser): every session of a demo log has its
timeline section, each with a column per participant (customer, agents who joined, supervisors),
a message row marks exactly who was shown the message, and every text is escaped.
"""

from __future__ import annotations

import io
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest

from coaching.application import Coaching
from coaching.audit.check import audit_path
from coaching.cli import main
from coaching.domain.values import MonitoringMode


class _Page(HTMLParser):
    """Sessions (``data-session``), their participant columns, message rows' marks, external refs."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, list[str]] = {}
        self.current: str | None = None
        self.rows: dict[str, list[list[tuple[str, str]]]] = {}
        self._row: list[tuple[str, str]] | None = None
        self._cell: str | None = None
        self.external: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "section" and a.get("data-session"):
            self.current = a["data-session"]
            self.sessions[self.current] = []
            self.rows[self.current] = []
        elif tag == "th" and a.get("data-participant") and self.current:
            self.sessions[self.current].append(a["data-participant"] or "")
        elif tag == "tr" and self.current:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""
        target = a.get("src") or a.get("href") or "#"
        if tag in ("script", "link", "img", "iframe") or not target.startswith("#"):
            self.external.append(tag)

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(("", self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.current:
            self.rows[self.current].append(self._row)
            self._row = None
        elif tag == "section":
            self.current = None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "shift.sqlite"
    code = main(["demo", "--db", str(path), "--seed", "3", "--sessions", "30", "--agents", "6",
                 "--supervisors", "3", "--no-progress"], out=io.StringIO(), err=io.StringIO())
    assert code == 0
    return path


def _participants(path: Path) -> dict[str, set[str]]:
    """Every session's participants, read from the stored rows with sqlite3 only."""
    found: dict[str, set[str]] = {}
    with sqlite3.connect(path) as db:
        for topic, state in db.execute("SELECT topic, state FROM stored_events ORDER BY rowid"):
            data = orjson.loads(state)
            name = topic.split(":")[1].split("@")[0]
            who = {"SessionOpened": "customer_id", "AgentAccepted": "agent_id",
                   "SupervisorAdded": "supervisor_id"}.get(name)
            if who:
                found.setdefault(data["session_id"], set()).add(data[who])
    return found


def test_the_page_has_a_timeline_for_every_session_with_every_participant(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code = main(["audit", str(demo), "--format", "html", "--out", str(out), "--no-progress"],
                out=io.StringIO(), err=io.StringIO())
    assert code == 0
    page = _Page()
    page.feed(out.read_text(encoding="utf-8"))
    expected = _participants(demo)
    assert len(expected) == 30
    assert {s: set(p) for s, p in page.sessions.items()} == expected
    assert page.external == [] and "style" in page.tags  # self-contained: inline CSS, nothing fetched


def test_a_message_row_marks_who_was_shown_it(tmp_path: Path) -> None:
    """A coach's message: the agent and the coach are shown it, the customer present is not."""
    path = tmp_path / "one.sqlite"
    app = Coaching.sqlite(str(path))
    app.register_agent("a1", "alice", nickname="<b>Alice</b>")
    app.register_supervisor("s1", "sam", agents=frozenset({"a1"}))
    app.coach("s1", "a1", mode=MonitoringMode.ALL_CHATS)
    app.open_session("x1", customer_id="c1", customer_nickname="Carol <script>alert(1)</script>")
    app.offer_session("x1", "a1")
    app.accept("a1", "x1")
    app.send_message("s1", "x1", "Offer the refund & <i>smile</i>")
    app.send_message("c1", "x1", "Hello?")
    app.complete("a1", "x1")
    app.close()
    result = audit_path(path, sessions=["x1"])
    html = result.render("html")
    assert "<script>" not in html and "<i>smile</i>" not in html and "&lt;i&gt;smile&lt;/i&gt;" in html
    page = _Page()
    page.feed(html)
    columns = page.sessions["x1"]
    assert set(columns) == {"c1", "a1", "s1"}
    by_text = {row[3][1].split(" — ")[0]: dict(zip(columns, (c for _, c in row[4:]), strict=True))
               for row in page.rows["x1"] if len(row) > 4}
    assert by_text["Offer the refund & <i>smile</i>"] == {"c1": "·", "a1": "✓", "s1": "✉"}
    assert by_text["Hello?"] == {"c1": "✉", "a1": "✓", "s1": "✓"}


def test_a_huge_log_gets_a_bounded_page_with_a_note(demo: Path) -> None:
    result = audit_path(demo, timeline_limit=5)
    page = _Page()
    page.feed(result.render("html"))
    assert len(page.sessions) == 5
    assert "25 more sessions are in the totals only" in result.render("html")
    assert len(audit_path(demo, timeline_limit=0).report.timelines) == 0


def test_a_session_with_a_violation_gets_its_timeline_even_outside_the_first_ones(
        demo: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.sqlite"
    path.write_bytes(demo.read_bytes())
    with sqlite3.connect(path) as db:
        rowid, state = db.execute(
            "SELECT rowid, state FROM stored_events WHERE topic = 'coaching:Revoked@v1' "
            "ORDER BY rowid DESC LIMIT 1").fetchone()
        db.execute("DELETE FROM stored_events WHERE rowid = ?", (rowid,))
    session_id = orjson.loads(state)["session_id"]
    result = audit_path(path, timeline_limit=0, violation_timelines=5)
    page = _Page()
    page.feed(result.render("html"))
    assert not result.ok and list(page.sessions) == [session_id]
    assert f'href="#session-{session_id}"' in result.render("html")
