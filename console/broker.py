"""The embedded Celery broker used when REDIS_URL is unset: kombu's filesystem transport, made atomic.

Stock `_put` creates the message file under its final name and then writes it, while `_get` takes any file
it lists (the lock `_put` holds is advisory): a worker polling in between reads an empty message and dies
with "Unrecoverable error: JSONDecodeError". Writing under a name `_get` skips (a leading dot) and then
renaming, which is atomic, leaves nothing half-written to take.
"""

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.json import dumps


class AtomicFilesystemChannel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}")
        with open(partial, "wb") as handle:
            handle.write(dumps(payload).encode())
        os.replace(partial, final)


class AtomicFilesystemTransport(filesystem.Transport):
    Channel = AtomicFilesystemChannel
