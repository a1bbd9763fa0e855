"""The Socket.IO transport: captured Chainlit packets decode into the frames the history
records, and frames encode into packets the server reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xtalk.transport import Control, JsonCodec, SocketIOCodec

DATA = Path(__file__).resolve().parents[2] / "data" / "chainlit"
CAPTURES = sorted(DATA.glob("frames-*.json"))


def packets(name: str, direction: str) -> list[str]:
    return [r["frame"] for r in json.loads((DATA / name).read_text()) if r["dir"] == direction]


def decode(packet: str) -> Any:
    items = SocketIOCodec().decode(packet.encode())
    assert len(items) == 1
    return items[0]


def test_an_event_packet_is_recorded_as_its_name_and_payload() -> None:
    item = decode('42["stream_token",{"id":"m1","token":"alice] "}]')
    assert item.frame == {"event": "stream_token", "data": {"id": "m1", "token": "alice] "}}
    assert item.control is None and item.reply is None


def test_an_event_without_arguments_has_no_data_and_further_arguments_go_to_args() -> None:
    assert decode('42["connection_successful"]').frame == {"event": "connection_successful"}
    assert decode('42["a",1,{"b":2}]').frame == {"event": "a", "data": 1, "args": [{"b": 2}]}


def test_control_packets_become_control_frames_and_announce_the_connections_state() -> None:
    opened = decode('0{"sid":"Lp0c","upgrades":[],"pingTimeout":20000,"pingInterval":25000,"maxPayload":1000000}')
    assert opened.frame["event"] == "eio.open" and opened.control is Control.OPEN
    connected = decode('40{"sid":"HazH"}')
    assert connected.frame == {"event": "sio.connect", "data": {"sid": "HazH"}}
    assert connected.control is Control.CONNECTED
    refused = decode('44{"message":"Connection refused by server"}')
    assert refused.frame == {"event": "sio.connect_error", "data": {"message": "Connection refused by server"}}
    assert refused.control is Control.REFUSED
    assert decode("41").control is Control.DISCONNECTED


def test_a_ping_is_answered_with_a_pong_and_recorded_by_neither_side() -> None:
    item = decode("2")
    assert item.frame is None and item.raw is None and item.reply == b"3"


def test_a_packet_that_cannot_be_decoded_is_kept_raw() -> None:
    for text in ("", "zz", "42not json", '42{"not": "a list"}', "451-[\"bin\",{\"_placeholder\":true,\"num\":0}]"):
        items = SocketIOCodec().decode(text.encode())
        assert len(items) == 1 and items[0].frame is None and items[0].raw == text.encode(), text


def test_another_namespaces_packets_say_so_and_change_no_state() -> None:
    item = decode('40/admin,{"sid":"x"}')
    assert item.frame["namespace"] == "/admin" and item.control is None


@pytest.mark.parametrize("capture", [c.name for c in CAPTURES])
def test_every_packet_chainlit_sent_decodes_to_a_frame_or_a_pong(capture: str) -> None:
    for packet in packets(capture, "<"):
        item = decode(packet)
        assert item.raw is None, packet
        assert isinstance(item.frame, dict) and isinstance(item.frame["event"], str)
        if packet.startswith("42"):
            name, *args = json.loads(packet[2:])
            assert item.frame["event"] == name
            assert item.frame.get("data") == (args[0] if args else None)


def test_frames_encode_to_the_packets_the_web_client_sends() -> None:
    codec = SocketIOCodec()
    for packet in packets("frames-single.json", ">"):
        if not packet.startswith("42"):
            continue
        name, *args = json.loads(packet[2:])
        frame: dict[str, Any] = {"event": name, **({"data": args[0]} if args else {})}
        assert json.loads(codec.encode(frame)[2:]) == [name, *args]
        assert codec.decode(codec.encode(frame))[0].frame == frame


def test_connect_and_goodbye_are_socketio_connect_and_disconnect_packets() -> None:
    codec = SocketIOCodec()
    data, recorded = codec.connect({"sessionId": "s-1", "clientType": "webapp"})
    assert data.startswith(b"40") and json.loads(data[2:]) == {"sessionId": "s-1", "clientType": "webapp"}
    assert recorded == {"event": "sio.connect", "data": {"sessionId": "s-1", "clientType": "webapp"}}
    assert codec.goodbye() == (b"41", {"event": "sio.disconnect"})
    assert SocketIOCodec("/chat").encode({"event": "x"}) == b'42/chat,["x"]'


def test_an_event_frame_without_a_name_cannot_be_sent() -> None:
    with pytest.raises(ValueError):
        SocketIOCodec().encode({"data": 1})


def test_the_json_codec_keeps_the_received_bytes_and_marks_text_that_is_not_json_raw() -> None:
    item = JsonCodec().decode(b'{"type": "heartbeat"}')[0]
    assert item.frame == {"type": "heartbeat"} and item.verbatim and item.raw == b'{"type": "heartbeat"}'
    bad = JsonCodec().decode(b"not json")[0]
    assert bad.frame is None and bad.raw == b"not json"
