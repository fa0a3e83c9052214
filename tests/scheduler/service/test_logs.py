"""``configure_logging``: one JSON line per event, from structlog and stdlib logging alike."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from scheduler.service.logs import OWN_LOGGERS, configure_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Put the root logger and structlog back as they were."""
    root, own = logging.getLogger(), [logging.getLogger(name) for name in OWN_LOGGERS]
    handlers, level, own_levels = list(root.handlers), root.level, [o.level for o in own]
    yield
    root.handlers, root.level = handlers, level
    for logger, own_level in zip(own, own_levels, strict=True):
        logger.setLevel(own_level)
    structlog.reset_defaults()


def test_structlog_and_stdlib_lines_from_two_threads_never_interleave(tmp_path: Path) -> None:
    """APScheduler-style warnings beside service events: every line is one whole JSON object."""
    path, events = tmp_path / "serve.log", 2000
    with path.open("w", encoding="utf-8") as stream:
        configure_logging("info", json=True, stream=stream)
        service = structlog.get_logger("carbonshift.service").bind(job_id="j-1", attempt=1)
        library = logging.getLogger("apscheduler.scheduler")

        def from_structlog() -> None:
            for n in range(events):
                service.info("tick", n=n, padding="x" * 200)

        def from_stdlib() -> None:
            for n in range(events):
                library.warning("run of job %s skipped: maximum number of instances", n)

        threads = [threading.Thread(target=from_structlog), threading.Thread(target=from_stdlib)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    ours = [line for line in lines if line["logger"] == "carbonshift.service"]
    theirs = [line for line in lines if line["logger"] == "apscheduler.scheduler"]
    assert len(ours) == len(theirs) == events == len(lines) / 2
    assert {(line["event"], line["job_id"], line["attempt"], line["level"]) for line in ours} == {
        ("tick", "j-1", 1, "info")
    }
    assert theirs[7]["event"] == "run of job 7 skipped: maximum number of instances"
    assert theirs[7]["level"] == "warning"
    assert theirs[7]["timestamp"].endswith("Z")


def test_the_level_filters_both_sources(tmp_path: Path) -> None:
    """At ``warning``, info events of structlog and of libraries are dropped; errors kept."""
    path = tmp_path / "serve.log"
    with path.open("w", encoding="utf-8") as stream:
        configure_logging("warning", json=True, stream=stream)
        structlog.get_logger("carbonshift.runner").info("dropped")
        logging.getLogger("uvicorn.error").info("dropped too")
        structlog.get_logger("carbonshift.runner").error("kept", region="de")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("uvicorn.error").exception("kept too")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(line["event"], line["level"]) for line in lines] == [
        ("kept", "error"),
        ("kept too", "error"),
    ]
    assert lines[0]["region"] == "de"
    assert "ValueError: boom" in lines[1]["exception"]


def test_configuring_twice_writes_each_line_once(tmp_path: Path) -> None:
    """A second call re-targets the root handler rather than adding another."""
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    with first.open("w", encoding="utf-8") as one, second.open("w", encoding="utf-8") as two:
        configure_logging("info", json=True, stream=one)
        configure_logging("info", json=True, stream=two)
        logging.getLogger("apscheduler").warning("once")
        structlog.get_logger("carbonshift.service").info("once too")
    assert first.read_text(encoding="utf-8") == ""
    assert [json.loads(line)["event"] for line in second.read_text().splitlines()] == [
        "once",
        "once too",
    ]


def test_console_rendering_on_request(tmp_path: Path) -> None:
    """``json=False`` renders readable lines (the TTY default), not JSON."""
    path = tmp_path / "console.log"
    with path.open("w", encoding="utf-8") as stream:
        configure_logging("info", json=False, stream=stream)
        structlog.get_logger("carbonshift.service").info("dispatched", job_id="j-9")
    text = path.read_text(encoding="utf-8")
    assert "dispatched" in text
    assert "j-9" in text
    assert not text.startswith("{")


def test_library_chatter_is_kept_to_warnings_unless_debug(tmp_path: Path) -> None:
    """At ``info``: carbonshift's info events, but only libraries' warnings (APScheduler logs
    two info lines per tick); at ``debug`` both speak."""
    for level, expected in (
        (
            "info",
            ["tick done", "ours through stdlib", "skipped: maximum number of running instances"],
        ),
        (
            "debug",
            [
                "tick done",
                "ours through stdlib",
                "Running job tick",
                "skipped: maximum number of running instances",
            ],
        ),
    ):
        path = tmp_path / f"{level}.log"
        with path.open("w", encoding="utf-8") as stream:
            configure_logging(level, json=True, stream=stream)
            structlog.get_logger("carbonshift.service").info("tick done")
            logging.getLogger("scheduler.api.errors").info("ours through stdlib")
            logging.getLogger("apscheduler.executors.default").info("Running job tick")
            logging.getLogger("apscheduler.scheduler").warning(
                "skipped: maximum number of running instances"
            )
        events = [json.loads(line)["event"] for line in path.read_text().splitlines()]
        assert events == expected, level
