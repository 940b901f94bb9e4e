"""Thread helpers for the tests of shared state: start functions in threads, wait for a condition.

What is left out: timing measurements (those live in bench/).
"""

import threading
import time


def in_threads(functions, timeout=120):
    """Start each function in its own thread; -> join(), which re-raises the first error and fails on a hang."""
    errors = []

    def wrap(function):
        def target():
            try:
                function()
            except BaseException as error:  # noqa: BLE001 - reported in the joining thread
                errors.append(error)
        return target

    threads = [threading.Thread(target=wrap(f), daemon=True) for f in functions]
    for thread in threads:
        thread.start()

    def join():
        for thread in threads:
            thread.join(timeout)
            assert not thread.is_alive(), "a thread hung"
        if errors:
            raise errors[0]
    return join


def wait_until(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.001)


def queued_together(queue, functions):
    """Run each function in its own thread while `queue` (a ForwardQueue) is held, let go once all
    of them wait in it, so their steps are served together, then join them."""
    with queue.exclusive():
        join = in_threads(functions)
        wait_until(lambda: queue.waiting == len(functions))
    join()
