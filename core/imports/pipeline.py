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
results. A workbook is always read in a worker with a memory ceiling
(``memory``), so a hostile file costs the worker, never the importer.

No process is left behind (issue 13): the worker asks the kernel to kill it
when its parent dies (``PR_SET_PDEATHSIG``) and closes its copy of the pipe's
reading end, so a parent killed with ``kill -9`` takes the worker with it;
a worker that dies makes the parent's read end at EOF, and the parent fails
with a clear message and rolls back.
"""

import ctypes
import faulthandler
import gc
import marshal
import multiprocessing
import os
import pickle
import resource
import signal

from ..kernel.errors import BrokerCRMError

# Below this many bytes a second process costs more than it saves.
PARALLEL_MIN_BYTES = 4 << 20
_DONE = "done"
_ERROR = "error"
_PR_SET_PDEATHSIG = 1
_MARSHAL, _PICKLE = b"M", b"P"


def die_with_parent(parent_pid):
    """Have the kernel SIGKILL this process when its parent dies (Linux); exit now if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pipe's EOF/EPIPE still ends the worker
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _limit_memory(extra_bytes):
    """Cap this process's data segment at its current size plus ``extra_bytes`` (RLIMIT_DATA)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[5])  # data + stack, in pages
        current = pages * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_DATA, (current + extra_bytes, current + extra_bytes))
    except (OSError, ValueError, IndexError):
        pass


def _worker(producer, args, out, receive, parent_pid, memory):
    faulthandler.disable()  # a worker that runs out of memory aborts: the parent reports it, no dump
    die_with_parent(parent_pid)
    receive.close()  # only the parent reads: with our copy closed, a dead parent means EPIPE here
    if memory:
        _limit_memory(memory)
    # The worker makes a few container objects per row and no reference cycles to speak of:
    # the collector's default pass every 700 allocations cost it ~8% of its time. It still
    # runs, a hundred times less often (memory stays bounded).
    gc.freeze()
    gc.set_threshold(100_000, 10, 10)
    # send_bytes writes in this thread and blocks while the pipe is full: no feeder thread
    # competing for the GIL, and at most about one batch waiting in the pipe.
    try:
        for payload in producer(*args):
            out.send_bytes(_pack(payload))
        out.send_bytes(_pack(_DONE))
    except BrokerCRMError as e:
        out.send_bytes(_pack((_ERROR, e)))
    except MemoryError:
        out.send_bytes(_pack((_ERROR, BrokerCRMError(memory_message(memory)))))
    except BaseException as e:  # anything else still has to reach the parent
        out.send_bytes(_pack((_ERROR, BrokerCRMError(f"导入进程出错 (import worker failed): {type(e).__name__}: {e}"))))
    finally:
        out.close()


def _pack(payload):
    """A payload as bytes: marshal when it holds only plain values, else pickle (first byte says which).

    A batch is lists and tuples of str, float, int and None: marshal writes and
    reads those about twice as fast as pickle, on both sides of the pipe. Only
    this interpreter, forked, reads what it wrote, so marshal's format is safe
    here. Anything marshal refuses (an exception, a str subclass) goes as pickle.
    """
    try:
        return _MARSHAL + marshal.dumps(payload)
    except ValueError:
        return _PICKLE + pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)


def _unpack(data):
    body = memoryview(data)[1:]
    return marshal.loads(body) if data[:1] == _MARSHAL else pickle.loads(body)


def memory_message(memory):
    limit = f"{memory >> 20} MB" if memory else "内存上限 (its memory limit)"
    return (f"读取该文件所需内存超过 {limit}, 已停止; 请另存为 CSV 或拆分后再导入 "
            f"(reading this file needs more than {limit}; save it as CSV or split it)")


def run(producer, args, *, size, memory=None):
    """Yield the payloads of ``producer(*args)``, from a forked worker when the file is large.

    ``memory``: always use a worker and let it grow by at most this many bytes.
    """
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        context = None
    if context is None or (size < PARALLEL_MIN_BYTES and not memory):
        yield from producer(*args)
        return
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_worker, args=(producer, args, send, receive, os.getpid(), memory),
                              daemon=True)
    process.start()
    send.close()  # the worker holds the writing end; EOF then means it is gone
    try:
        while True:
            try:
                payload = _unpack(receive.recv_bytes())
            except EOFError:
                process.join()
                if memory and process.exitcode in (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGKILL):
                    raise BrokerCRMError(memory_message(memory)) from None
                raise BrokerCRMError(
                    f"导入进程意外退出 (import worker died, exit {process.exitcode}); 未导入任何数据") from None
            if isinstance(payload, str) and payload == _DONE:
                break
            if isinstance(payload, tuple) and len(payload) == 2 and payload[0] == _ERROR:
                raise payload[1]
            yield payload
    finally:
        receive.close()
        if process.is_alive():
            process.terminate()
        process.join()
