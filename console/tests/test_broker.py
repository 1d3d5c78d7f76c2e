"""The embedded broker (console.broker) keeps a message until its consumer acknowledges it: a message whose
consumer process is killed is delivered again, one held by a live consumer goes to nobody else, and an
acknowledged one is gone for good. Real kombu connections; the consumer that dies is a real process."""

import json
import subprocess
import sys
import uuid
from pathlib import Path
from queue import Empty

import pytest
from django.conf import settings
from kombu import Connection

from console.broker import AtomicFilesystemTransport

CONSUMER = """
import json, sys, time
from kombu import Connection
from console.broker import AtomicFilesystemTransport

options = json.loads(sys.argv[1])
queue = options.pop("queue")
with Connection("filesystem://", transport=AtomicFilesystemTransport, transport_options=options) as connection:
    message = connection.SimpleQueue(queue).get(timeout=20)
    print(json.dumps(message.payload), flush=True)
    time.sleep(60)  # holds the message, unacknowledged, until the test kills this process
"""


@pytest.fixture
def options(tmp_path) -> dict:
    """Folders of the test's own, and a queue name of its own: kombu remembers the queues it bound in a
    process, and would not write a binding again into another test's folders."""
    for name in ("broker", "control"):
        (tmp_path / name).mkdir()
    return {
        "queue": f"jobs-{uuid.uuid4().hex}",
        "data_folder_in": str(tmp_path / "broker"),
        "data_folder_out": str(tmp_path / "broker"),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
        "polling_interval": 0.05,
    }


def connect(options) -> Connection:
    folders = {name: value for name, value in options.items() if name != "queue"}
    return Connection("filesystem://", transport=AtomicFilesystemTransport, transport_options=folders)


def publish(options, payload) -> None:
    with connect(options) as connection:
        connection.SimpleQueue(options["queue"]).put(payload)


def take(options, timeout=2.0):
    """A consumer in this process: (its connection, the message). The caller acknowledges or closes."""
    connection = connect(options)
    return connection, connection.SimpleQueue(options["queue"]).get(timeout=timeout)


def nothing_for(options) -> bool:
    with connect(options) as connection:
        try:
            connection.SimpleQueue(options["queue"]).get(timeout=1.5)
        except Empty:
            return True
    return False


def message_files(options) -> list[str]:
    return sorted(str(p.relative_to(options["data_folder_in"])) for p in Path(options["data_folder_in"]).rglob("*.msg"))


def test_a_message_whose_consumer_is_killed_goes_to_nobody_else_until_then_and_is_delivered_again(options):
    publish(options, {"job": 1})
    consumer = subprocess.Popen(
        [sys.executable, "-c", CONSUMER, json.dumps(options)],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert json.loads(consumer.stdout.readline()) == {"job": 1}
        assert nothing_for(options)  # the live consumer holds it
        assert [name.split("/")[0] for name in message_files(options)] == [".unacked"]
    finally:
        consumer.kill()
        consumer.wait(timeout=10)
        consumer.stdout.close()

    connection, message = take(options)
    assert message.payload == {"job": 1}
    message.ack()
    connection.close()
    assert message_files(options) == [] and nothing_for(options)


def test_an_acknowledged_message_is_gone(options):
    publish(options, {"job": 1})
    connection, message = take(options)
    message.ack()
    connection.close()
    assert message_files(options) == [] and nothing_for(options)


def test_a_message_rejected_with_requeue_comes_back_and_one_rejected_without_is_gone(options):
    publish(options, {"job": 1})
    connection, message = take(options)
    message.reject(requeue=True)
    again = connection.SimpleQueue(options["queue"]).get(timeout=2)
    assert again.payload == {"job": 1}
    again.reject(requeue=False)
    connection.close()
    assert message_files(options) == [] and nothing_for(options)


def test_a_consumer_that_closes_without_acknowledging_puts_the_message_back(options):
    publish(options, {"job": 1})
    connection, message = take(options)
    connection.close()  # a warm shutdown: kombu gives back what was not acknowledged
    connection, message = take(options)
    assert message.payload == {"job": 1}
    message.ack()
    connection.close()
    assert message_files(options) == []
