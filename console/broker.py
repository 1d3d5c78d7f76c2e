"""The embedded Celery broker used when REDIS_URL is unset: kombu's filesystem transport, made atomic and
made to keep the messages a worker took until it acknowledges them.

Atomic: stock `_put` creates the message file under its final name and then writes it, while `_get` takes any
file it lists (the lock `_put` holds is advisory): a worker polling in between reads an empty message and dies
with "Unrecoverable error: JSONDecodeError". Writing under a name `_get` skips (a leading dot) and then
renaming, which is atomic, leaves nothing half-written to take.

Acknowledged: stock `_get` deletes a message file as it hands the message over, so a task whose worker is
killed (SIGKILL, out of memory, power) is gone, although Celery acknowledges tasks late (CELERY_TASK_ACKS_LATE)
precisely to have them delivered again. Here `_get` first takes an exclusive lock (flock) on the file, then
moves it to the `.unacked` folder and keeps it open: the acknowledgement deletes it. The operating system drops
the lock of a process that dies, however it dies; any consumer finding an unlocked file among the unacknowledged
moves it back to its queue, to be delivered again. The folders must be on a local disk (flock).
"""

import fcntl
import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

UNACKED = ".unacked"  # under the queue folder; `_get`, `_size` and `_purge` skip names without ".<queue>.msg"
RESTORE_EVERY = 1.0  # seconds between two looks for the messages of dead consumers


class AtomicFilesystemChannel(filesystem.Channel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._held = {}  # delivery tag -> (open, locked file, its path under .unacked)
        self._acked_queues = set()  # queues consumed with acknowledgements; other consumers' messages go at once
        self._restored_at = None

    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}")
        with open(partial, "wb") as handle:
            handle.write(dumps(payload).encode())
        os.replace(partial, final)

    def basic_consume(self, queue, no_ack, *args, **kwargs):
        if not no_ack:
            self._acked_queues.add(queue)
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def _get(self, queue):
        if queue not in self._acked_queues:  # remote control and replies: nothing acknowledges them
            return super()._get(queue)
        self._restore_messages_of_dead_consumers()
        suffix = f".{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.startswith(".") or not name.endswith(suffix):
                continue
            taken = self._take(name)
            if taken is not None:
                return taken
        raise filesystem.Empty()

    def _take(self, name):
        """Lock the message file, move it under .unacked and read it; None if another consumer took it first."""
        path = os.path.join(self.data_folder_in, name)
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = os.path.join(self._unacked_folder(), name)
            os.rename(path, held)  # fails if the file left the queue before this consumer locked it
        except OSError:
            handle.close()
            return None
        payload = loads(bytes_to_str(handle.read()))
        self._held[payload["properties"]["delivery_tag"]] = (handle, held)
        return payload

    def basic_ack(self, delivery_tag, multiple=False):
        super().basic_ack(delivery_tag, multiple)
        _drop(self._held.pop(delivery_tag, None))

    def basic_reject(self, delivery_tag, requeue=False):
        super().basic_reject(delivery_tag, requeue)  # with requeue, through `_restore`
        if not requeue:
            _drop(self._held.pop(delivery_tag, None))

    def _restore(self, message):
        """Unacknowledged at a clean shutdown, or rejected with requeue: a copy goes back to the queue, then the
        held file goes. Let go of it first: the copy has the same delivery tag and may be taken again at once."""
        held = self._held.pop(message.delivery_tag, None)
        super()._restore(message)
        _drop(held)

    def _restore_messages_of_dead_consumers(self):
        now = monotonic()
        if self._restored_at is not None and now - self._restored_at < RESTORE_EVERY:
            return
        self._restored_at = now
        folder = self._unacked_folder()
        for name in os.listdir(folder):
            self._restore_if_abandoned(os.path.join(folder, name), name)

    def _restore_if_abandoned(self, held, name):
        try:
            handle = open(held, "rb")
        except FileNotFoundError:
            return
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a live consumer holds its lock
                os.rename(held, os.path.join(self.data_folder_in, name))
            except OSError:
                return

    def _unacked_folder(self):
        folder = os.path.join(self.data_folder_in, UNACKED)
        os.makedirs(folder, exist_ok=True)
        return folder


def _drop(held) -> None:
    """Delete a held message file, then let go of its lock: in that order nobody finds it unlocked."""
    if held is None:
        return
    handle, path = held
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    handle.close()


class AtomicFilesystemTransport(filesystem.Transport):
    Channel = AtomicFilesystemChannel
