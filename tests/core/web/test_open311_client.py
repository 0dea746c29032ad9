"""A real third-party Open311 client (PyPI's `georeport`) reads this server in JSON and in XML,
including requests stored before intake refused control characters: whatever a row holds, the
answers stay well-formed."""

import socket
import threading
import time

import pytest
import uvicorn
from georeport import GeoReport
from sqlalchemy import update

from gridcase.core.db.models import Case, Report
from gridcase.core.text import clean_text
from gridcase.core.web.app import create_app

# every C0 control, DEL and every C1 control; PostgreSQL cannot store NUL at all
CONTROLS = [chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]]


@pytest.fixture
def served(world):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine=world.engine), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/open311/v2"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_requests_whose_stored_text_holds_every_control_character(world, served, fmt):
    storable = [c for c in CONTROLS if c != "\x00" or world.engine.db.dialect.name == "sqlite"]
    description = "井盖" + "".join(storable) + "缺失"
    with world.engine.db.begin() as connection:  # as a row stored before intake refused them
        for table in (Case.__table__, Report.__table__):
            connection.execute(update(table).values(description=description))
        connection.execute(update(Case.__table__).values(address="人民路\x01\x0b1号"))
    client = GeoReport(served, output_format=fmt)
    services = client.get_service_list()
    assert {s["service_code"] for s in services} >= {"c-0101", "e-0501"}
    assert client.get_service_definition("c-0101")["service_code"] == "c-0101"
    found = client.get_service_requests(service_code="c-0101")
    # the client gives XML's one-element list as the element itself (xmltodict's way)
    (request,) = [found] if isinstance(found, dict) else found
    read = client.get_service_request(request["service_request_id"])
    # in both formats each control character but tab and line breaks stands as U+FFFD
    cleaned = clean_text(description)
    assert cleaned.count("\ufffd") == len(storable) - 3
    for answer in (request, read):
        # XML reads a lone carriage return as a line break, as the XML specification says
        assert answer["description"] == (cleaned.replace("\r", "\n") if fmt == "xml" else cleaned)
        assert answer["address"] == "人民路\ufffd\ufffd1号"
