"""A small program that fails and dumps: `make demo` runs it.

    python tests/programs/demo.py DIRECTORY

An order service computes totals; one order has a line with a quantity of
None, the total fails with a TypeError, and the except block writes a dump
into DIRECTORY before the program exits with status 1.
"""

import sys

import heapdump

TAX_RATE = 0.2


class Customer:
    def __init__(self, name, email):
        self.name = name
        self.email = email


class Order:
    def __init__(self, number, customer, lines):
        self.number = number
        self.customer = customer
        self.lines = lines

    def total(self):
        subtotal = 0
        for line in self.lines:
            subtotal += line_price(line)
        return subtotal * (1 + TAX_RATE)


def line_price(line):
    price, quantity = line["price"], line["quantity"]
    return price * quantity


def main(directory):
    ann = Customer("Ann", "ann@example.com")
    orders = [
        Order(1001, ann, [{"sku": "A-1", "price": 9.5, "quantity": 2}]),
        Order(1002, ann, [{"sku": "B-7", "price": 4.0, "quantity": 1},
                          {"sku": "C-3", "price": 12.0, "quantity": None}]),
    ]
    totals = {}
    for order in orders:
        try:
            totals[order.number] = order.total()
        except TypeError:
            path = heapdump.dump(directory, reason="order total failed")
            print("dumped to", path)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
