"""The live view in Locust's web UI: the JSON endpoint, the page, and Locust's extended tabs."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

from flask import Flask, jsonify

from xtalk.live.board import LiveBoard
from xtalk.live.web import EXTENDED_TABS, SCRIPT, TAB_COUNTS, TAB_FINDINGS, install

HOSTILE = '<img src=x onerror="alert(1)">'


def ui_with_board() -> tuple[Any, LiveBoard]:
    app = Flask("fake_locust")

    @app.route("/stats/requests")
    def stats() -> Any:
        return jsonify({"stats": [], "errors": []})

    board = LiveBoard()
    board.update({"worker": "0", "counts": {"cross_user_event": 2},
                  "requests": {"sent": 9, "completed": 7, "in_flight": 2},
                  "latest": [{"kind": "cross_user_event", "user": "u0000", "owner": "u0001", "t": 2.5,
                              "witness": [7], "explanation": HOSTILE}]})
    web_ui = SimpleNamespace(app=app, template_args={})
    install(web_ui, board)
    return web_ui, board


def test_json_endpoint_returns_the_boards_summary() -> None:
    web_ui, board = ui_with_board()
    response = web_ui.app.test_client().get("/xtalk/live.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    data = response.get_json()
    assert data["total"]["counts"]["cross_user_event"] == 2
    assert data["latest"][0]["explanation"] == HOSTILE  # data, not markup: the page escapes it


def test_page_carries_no_server_data_and_forbids_inline_scripts() -> None:
    web_ui, _ = ui_with_board()
    response = web_ui.app.test_client().get("/xtalk")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    body = response.get_data(as_text=True)
    assert HOSTILE not in body and "u0001" not in body
    script = web_ui.app.test_client().get("/xtalk/live.js")
    assert script.status_code == 200 and script.get_data(as_text=True) == SCRIPT


def test_script_writes_server_values_as_text_only() -> None:
    assert "textContent" in SCRIPT
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", SCRIPT)


def test_locusts_stats_poll_carries_the_isolation_tabs_rows() -> None:
    web_ui, _ = ui_with_board()
    data = web_ui.app.test_client().get("/stats/requests").get_json()
    assert data["stats"] == [] and data["errors"] == []
    tables = {t["key"]: t["data"] for t in data["extended_stats"]}
    counts = {row["what"]: row for row in tables[TAB_COUNTS]}
    assert counts["cross_user_event"]["total"] == 2 and counts["cross_user_event"]["per_worker"] == "0: 2"
    assert counts["requests in flight"]["total"] == 2
    assert "lower bound" in counts["note"]["total"]
    (row,) = tables[TAB_FINDINGS]
    assert row["owner"] == "u0001" and row["user"] == "u0000" and row["explanation"] == HOSTILE


def test_tabs_are_announced_to_locusts_ui_and_other_routes_are_untouched() -> None:
    web_ui, _ = ui_with_board()
    assert web_ui.template_args["extended_tabs"] == EXTENDED_TABS
    assert {t["key"] for t in web_ui.template_args["extended_tables"]} == {TAB_COUNTS, TAB_FINDINGS}

    @web_ui.app.route("/other")
    def other() -> str:
        return "plain"

    assert web_ui.app.test_client().get("/other").get_data(as_text=True) == "plain"
    json.dumps(web_ui.template_args)  # the template serialises them with tojson
