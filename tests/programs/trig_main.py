"""An order service whose total fails: in the main thread, in a thread, or
by a KeyboardInterrupt, SystemExit...  (tests/integration/test_triggers.py)

    python trig_main.py SCENARIO
"""

import os
import sys
import threading

import trig_common

trig_common.enable()


class Order:
    def __init__(self, number, lines):
        self.number = number
        self.lines = lines


def total(order):
    subtotal = 0
    for line in order.lines:
        subtotal += line["price"] * line["quantity"]
    return subtotal


def leave(status):
    sys.exit(status)


def main(scenario):
    password = os.environ.get("TRIG_PASSWORD", "")
    order = Order(17, [{"price": 3, "quantity": 2},
                       {"price": 5, "quantity": None}])
    if scenario == "main":
        total(order)
    elif scenario == "thread":
        worker = threading.Thread(target=total, args=(order,), name="worker")
        worker.start()
        worker.join()
        print("main continues", flush=True)
    elif scenario == "keyboard":
        raise KeyboardInterrupt
    elif scenario == "exit":
        leave(3)
    elif scenario == "thread-exit":
        worker = threading.Thread(target=leave, args=(4,), name="worker")
        worker.start()
        worker.join()
        print("main continues", flush=True)
    del password


main(sys.argv[1])
