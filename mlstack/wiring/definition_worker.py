"""A worker process that builds pipeline definitions: `python -m mlstack.wiring.definition_worker`.

Cold definitions are built in up to two of these (pipeline_cache.py), side by side, while
the program goes on: each imports the SageMaker SDK once and then builds what it is sent.
The protocol on stdin/stdout: an 8-byte big-endian length, then that many bytes; a request
is the pickled inputs, a reply is b"ok\\n" + the definition (UTF-8) or b"error\\n" + a message.
Pickle is safe here: both ends are this package, talking over the worker's own pipes.
"""

from __future__ import annotations

import pickle
import signal
import sys
from typing import BinaryIO

HEADER = 8


def read_message(stream: BinaryIO) -> bytes | None:
    header = stream.read(HEADER)
    if len(header) < HEADER:
        return None  # the parent closed the pipe: done
    size = int.from_bytes(header, "big")
    return stream.read(size)


def write_message(stream: BinaryIO, body: bytes) -> None:
    stream.write(len(body).to_bytes(HEADER, "big") + body)
    stream.flush()


def build(inputs: object) -> str:
    from mlstack.pipelines.batch_inputs import BatchPipelineInputs
    from mlstack.pipelines.monitor_inputs import MonitorPipelineInputs

    if isinstance(inputs, BatchPipelineInputs):
        from mlstack.pipelines.batch_builder import build_batch_definition

        return build_batch_definition(inputs)
    if isinstance(inputs, MonitorPipelineInputs):
        from mlstack.pipelines.monitor_builder import build_monitor_definition

        return build_monitor_definition(inputs)
    from mlstack.pipelines.builder import build_definition

    return build_definition(inputs)  # type: ignore[arg-type]


def main() -> None:
    # Ctrl-C reaches the whole process group: the parent decides (a watch says "stopped"), and
    # closing our stdin is what ends us. Without this, every worker would print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing the builder prints may corrupt the replies
    from mlstack.pipelines.builder import warm_up

    warm_up()  # the SDK's import (~2 s) happens before the first request arrives
    while (request := read_message(requests)) is not None:
        try:
            reply = b"ok\n" + build(pickle.loads(request)).encode()
        except Exception as error:  # reported to the parent, which raises it there
            reply = b"error\n" + f"{type(error).__name__}: {error}".encode()
        write_message(replies, reply)


if __name__ == "__main__":
    main()
