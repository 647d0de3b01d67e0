"""fanout's Python worker: runs a user's function for the tasks fanout sends.

fanout's python job (jobs/python.cpp) starts one of these per worker thread,
as `python -m fanout_worker SETUP` with SETUP a JSON object:

    {"function": "module:callable", "path": [dirs put first on sys.path],
     "results": [declared result names], "by_id": true when the function
     takes the task id (no [params]), "parent": fanout's pid}

It asks Linux to kill it when the thread of fanout that started it ends
(PR_SET_PDEATHSIG): a killed rank leaves no worker behind.

Protocol (docs/jobs.md, "python"): requests arrive on stdin, one JSON line
each, {"tasks": [[id, {params} or null], ...]}; replies go to file
descriptor 3, never to stdout, so that nothing the function prints can
disturb them (written at least every millisecond and at the end of each
request, so a worker that dies may take the replies of its last millisecond
with it: fanout then sends those tasks again one at a time). The first reply
is the line `ready\tIMPORT_SECONDS` or
`error\tMESSAGE` (MESSAGE as a JSON string). Then one line per task, as soon
as it ends, of tab-separated fields:

    id  ok  t_start  t_end  cpu_user  cpu_sys  payload  stdout_tail  stderr_tail

ok is 1 or 0; t_start and t_end are time.monotonic() (CLOCK_MONOTONIC,
fanout's steady clock); cpu_* are this process's getrusage differences over
the call; payload is the results as one JSON object when ok, else the error
(the exception's type, message and the last frames of its traceback) as a
JSON string; the tails are JSON strings, "" when the task printed nothing.
JSON text holds no raw tab or newline, so the fields need no other quoting.
Only the standard library is needed; numpy values are converted when the
function returns them.
"""
import importlib
import io
import json
import math
import os
import resource
import sys
import time
import traceback

TAIL = 4096
FRAMES = 5  # traceback frames kept in an error
FLUSH_SECONDS = 1e-3


def plain(value):
    """A returned value as JSON can hold it: numpy scalars and arrays become
    Python numbers and lists; floats that are not finite become the strings
    fanout reads as nan, inf and -inf."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()  # numpy array or scalar
    elif hasattr(value, "item") and not isinstance(value, (str, bytes, bool, int, float)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


class Tail(io.TextIOBase):
    """What is written, kept to its last 4 x TAIL characters: stands in for
    sys.stdout or sys.stderr for a whole batch; each task takes the part
    written since its mark()."""

    def __init__(self):
        super().__init__()
        self.parts = []
        self.kept = 0   # characters in parts
        self.total = 0  # characters ever written

    def writable(self):
        return True

    def write(self, text):
        self.parts.append(text)
        self.kept += len(text)
        self.total += len(text)
        if self.kept > 4 * TAIL:
            joined = "".join(self.parts)[-TAIL:]
            self.parts, self.kept = [joined], len(joined)
        return len(text)

    def since(self, mark):
        """The last TAIL characters written since total was `mark`, as a JSON string."""
        if self.total == mark:
            return '""'
        text = "".join(self.parts)
        return json.dumps(text[-min(TAIL, self.total - mark, len(text)):])


_SIMPLE = (int, float, str)


def encode(results, value):
    """The returned value as the JSON object of the results (fast for plain
    numbers, the common case)."""
    if not isinstance(value, dict):
        if len(results) == 1:
            value = {results[0]: value}
        elif not results:
            return "{}"
        else:
            raise TypeError(f"the function returned {type(value).__name__}, expected a dict of the "
                            f"declared results ({', '.join(results)})")
    fields = []
    for key, v in value.items():
        key = key if isinstance(key, str) and key.isidentifier() else json.dumps(str(key))[1:-1]
        if v is True or v is False:
            fields.append(f'"{key}":{"true" if v else "false"}')
        elif type(v) is int or (type(v) is float and math.isfinite(v)):
            fields.append(f'"{key}":{v!r}')
        else:
            fields.append(f'"{key}":{json.dumps(plain(v), allow_nan=False)}')
    return "{" + ",".join(fields) + "}"


def error_text(exc):
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None  # not this module's frame
    frames = traceback.format_exception(type(exc), exc, tb, limit=-FRAMES)
    head = f"{type(exc).__name__}: {exc}"
    return head + "\n" + "".join(frames[:-1]).rstrip() if len(frames) > 1 else head


def die_with_parent(parent):
    """SIGKILL when fanout's process goes (kill -9 of a rank included), on Linux."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        return
    if parent and os.getppid() != parent:  # it went before the line above
        os._exit(1)


def main():
    setup = json.loads(sys.argv[1])
    die_with_parent(setup.get("parent"))
    replies = os.fdopen(3, "wb", buffering=0)

    sys.path[:0] = setup["path"]
    module_name, _, name = setup["function"].partition(":")
    started = time.monotonic()
    try:
        function = getattr(importlib.import_module(module_name), name)
        if not callable(function):
            raise TypeError(f"{setup['function']} is not callable (it is a {type(function).__name__})")
    except BaseException as exc:  # noqa: BLE001 - any failure to import is the user's message
        message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        replies.write(f"error\t{json.dumps(message)}\n".encode())
        return 0
    replies.write(f"ready\t{time.monotonic() - started!r}\n".encode())

    results = setup["results"]
    by_id = setup["by_id"]
    getrusage, monotonic, SELF = resource.getrusage, time.monotonic, resource.RUSAGE_SELF
    stdout, stderr = sys.stdout, sys.stderr
    pending, flushed = [], monotonic()
    for line in sys.stdin.buffer:
        out, err = Tail(), Tail()
        sys.stdout, sys.stderr = out, err
        for task_id, params in json.loads(line)["tasks"]:
            out_mark, err_mark = out.total, err.total
            # The CPU readings inside the wall interval, so that CPU <= wall for short calls.
            t0 = monotonic()
            usage = getrusage(SELF)
            try:
                value = function(task_id) if by_id else function(**params)
                after = getrusage(SELF)
                t1 = monotonic()
                try:
                    ok, payload = 1, encode(results, value)
                except (TypeError, ValueError) as exc:
                    ok, payload = 0, json.dumps(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # noqa: BLE001 - a task's exception fails that task only
                after = getrusage(SELF)
                t1 = monotonic()
                ok, payload = 0, json.dumps(error_text(exc))
            pending.append(f"{task_id}\t{ok}\t{t0!r}\t{t1!r}\t{after.ru_utime - usage.ru_utime!r}\t"
                           f"{after.ru_stime - usage.ru_stime!r}\t{payload}\t{out.since(out_mark)}\t"
                           f"{err.since(err_mark)}\n")
            # Replies leave at least every millisecond (at once for tasks that long), so that
            # fanout hears of short tasks a few hundred at a time.
            if t1 - flushed >= FLUSH_SECONDS:
                replies.write("".join(pending).encode())
                pending, flushed = [], t1
        if pending:
            replies.write("".join(pending).encode())
            pending, flushed = [], monotonic()
        sys.stdout, sys.stderr = stdout, stderr
    return 0


if __name__ == "__main__":
    sys.exit(main())
