"""Reading and checking a file in a second process while this one writes.

Parsing and checking a row in Python costs about as much as SQLite needs to
store it, so on one core a fully validated import cannot come near the speed
of a bare ``executemany`` (issue 2 §8). The work splits cleanly: reading and
row checks need no database, writing needs the connection. A forked worker
runs the *producer* (a generator of picklable batch payloads) and hands
batches over a pipe; the parent writes them inside its one transaction.
The pipe holds about one batch, so memory stays flat.

The worker never touches the parent's database connection. Small files, and
platforms without ``fork``, run the producer in-process: same payloads, same
results.
"""

import multiprocessing

from ..kernel.errors import BrokerCRMError

# Below this many bytes a second process costs more than it saves.
PARALLEL_MIN_BYTES = 4 << 20
_DONE = "done"
_ERROR = "error"


def _worker(producer, args, out):
    # Conn.send pickles in this thread and blocks while the pipe is full: no feeder thread
    # competing for the GIL, and at most about one batch waiting in the pipe.
    try:
        for payload in producer(*args):
            out.send(payload)
        out.send(_DONE)
    except BrokerCRMError as e:
        out.send((_ERROR, str(e)))
    except BaseException as e:  # anything else still has to reach the parent
        out.send((_ERROR, f"导入进程出错 (import worker failed): {type(e).__name__}: {e}"))
    finally:
        out.close()


def run(producer, args, *, size):
    """Yield the payloads of ``producer(*args)``, from a forked worker when the file is large."""
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        context = None
    if context is None or size < PARALLEL_MIN_BYTES:
        yield from producer(*args)
        return
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_worker, args=(producer, args, send), daemon=True)
    process.start()
    send.close()  # the worker holds the writing end; EOF then means it is gone
    try:
        while True:
            try:
                payload = receive.recv()
            except EOFError:
                raise BrokerCRMError("导入进程意外退出 (import worker died)") from None
            if isinstance(payload, str) and payload == _DONE:
                break
            if isinstance(payload, tuple) and len(payload) == 2 and payload[0] == _ERROR:
                raise BrokerCRMError(payload[1])
            yield payload
    finally:
        receive.close()
        if process.is_alive():
            process.terminate()
        process.join()
