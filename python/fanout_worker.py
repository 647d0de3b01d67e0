"""fanout's Python worker: runs a user's function for the tasks fanout sends.

fanout's python job (jobs/python.cpp) starts one of these per worker thread,
as `python -m fanout_worker SETUP` with SETUP a JSON object:

    {"function": "module:callable", "path": [dirs put first on sys.path],
     "results": [declared result names], "by_id": true when the function
     takes the task id (no [params])}

Protocol (docs/jobs.md, "python"): requests arrive on stdin, one JSON line
each, {"tasks": [[id, {params} or null], ...]}; replies go to file
descriptor 3, never to stdout, so that nothing the function prints can
disturb them. The first reply is ["ready", import_seconds] or
["error", message]. Then one line per task, as soon as it ends:

    [id, ok, t_start, t_end, cpu_user, cpu_sys, payload, stdout_tail, stderr_tail]

t_start and t_end are time.monotonic() (CLOCK_MONOTONIC, fanout's steady
clock); cpu_* are this process's getrusage differences over the call;
payload is the results as a JSON object text when ok, else the error text
(the exception's type, message and the last frames of its traceback).
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
    """The last TAIL characters written: stands in for sys.stdout or sys.stderr."""

    def __init__(self):
        self.parts = []
        self.size = 0

    def writable(self):
        return True

    def write(self, text):
        self.parts.append(text)
        self.size += len(text)
        if self.size > 4 * TAIL:
            joined = "".join(self.parts)[-TAIL:]
            self.parts, self.size = [joined], len(joined)
        return len(text)

    def text(self):
        return "".join(self.parts)[-TAIL:] if self.parts else ""


def error_text(exc):
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None  # not this module's frame
    frames = traceback.format_exception(type(exc), exc, tb, limit=-FRAMES)
    head = f"{type(exc).__name__}: {exc}"
    return head + "\n" + "".join(frames[:-1]).rstrip() if len(frames) > 1 else head


def main():
    setup = json.loads(sys.argv[1])
    replies = os.fdopen(3, "wb", buffering=0)

    def send(message):
        replies.write(json.dumps(message, allow_nan=False).encode() + b"\n")

    sys.path[:0] = setup["path"]
    module_name, _, name = setup["function"].partition(":")
    started = time.monotonic()
    try:
        function = getattr(importlib.import_module(module_name), name)
        if not callable(function):
            raise TypeError(f"{setup['function']} is not callable (it is a {type(function).__name__})")
    except BaseException as exc:  # noqa: BLE001 - any failure to import is the user's message
        send(["error", "".join(traceback.format_exception_only(type(exc), exc)).strip()])
        return 0
    send(["ready", time.monotonic() - started])

    results = setup["results"]
    by_id = setup["by_id"]
    stdout, stderr = sys.stdout, sys.stderr
    for line in sys.stdin.buffer:
        for task_id, params in json.loads(line)["tasks"]:
            out, err = Tail(), Tail()
            sys.stdout, sys.stderr = out, err
            usage = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.monotonic()
            try:
                value = function(task_id) if by_id else function(**params)
                ok = True
            except Exception as exc:  # noqa: BLE001 - a task's exception fails that task only
                ok, payload = False, error_text(exc)
            t1 = time.monotonic()
            after = resource.getrusage(resource.RUSAGE_SELF)
            sys.stdout, sys.stderr = stdout, stderr
            if ok:
                try:
                    if len(results) == 1 and not isinstance(value, dict):
                        value = {results[0]: value}
                    elif not results:
                        value = {}
                    elif not isinstance(value, dict):
                        raise TypeError(f"the function returned {type(value).__name__}, expected a dict of the "
                                        f"declared results ({', '.join(results)})")
                    payload = json.dumps({str(k): plain(v) for k, v in value.items()}, allow_nan=False)
                except (TypeError, ValueError) as exc:
                    ok, payload = False, f"{type(exc).__name__}: {exc}"
            send([task_id, ok, t0, t1, after.ru_utime - usage.ru_utime, after.ru_stime - usage.ru_stime, payload,
                  out.text(), err.text()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
