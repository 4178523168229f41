"""What the Python client tests share: TAP output and the fixtures.

The tests print TAP ("ok 1 - ...", "not ok 2 - ...", "1..N" at the end),
which test/t/041_clients.pl relays test by test.  They connect with libpq's
environment (PGHOST, PGPORT, PGDATABASE, PGUSER), as an application would.
"""
import csv
import math
import os
import sys
import traceback

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")


def fixture_bytes(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def fixture_text(name):
    return fixture_bytes(name).decode("utf-8")


def parse_array(text):
    """'{1,2.5,3}' as a list of floats."""
    return [float(x) for x in text.strip("{}").split(",")]


def digits_rows():
    """The digits test rows: (id, features as ints, expected class v1,
    expected proba v1, expected class v2), from the committed fixtures."""
    with open(os.path.join(FIXTURES, "digits_test.csv")) as f:
        test = {int(r["id"]): r for r in csv.DictReader(f)}
    with open(os.path.join(FIXTURES, "digits_mlp_expected.csv")) as f:
        v1 = {int(r["id"]): r for r in csv.DictReader(f)}
    with open(os.path.join(FIXTURES, "digits_mlp_v2_expected.csv")) as f:
        v2 = {int(r["id"]): r for r in csv.DictReader(f)}
    rows = []
    for i in sorted(test):
        features = [int(x) for x in parse_array(test[i]["features"])]
        rows.append((i, features, int(v1[i]["class"]), parse_array(v1[i]["proba"]),
                     int(v2[i]["class"])))
    return rows


def diabetes_rows():
    with open(os.path.join(FIXTURES, "diabetes_test.csv")) as f:
        return [(int(r["id"]), parse_array(r["features"])) for r in csv.DictReader(f)]


V2_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


class Tap:
    """Numbered TAP results; a failing check prints why, as TAP comments."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, why=""):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name), flush=True)
        if not cond and why:
            for line in str(why).splitlines():
                print("# " + line, flush=True)
        return cond

    def check(self, name, fn):
        """Run fn(); it passes if it returns True (or None) without raising."""
        try:
            r = fn()
            return self.ok(r is None or r is True, name, "" if r in (None, True) else repr(r))
        except Exception:
            return self.ok(False, name, traceback.format_exc())

    def sqlstate(self, name, expected, fn, get_code):
        """fn() must raise an error whose SQLSTATE (get_code(e)) is expected."""
        try:
            fn()
        except Exception as e:
            code = get_code(e)
            return self.ok(code == expected, "%s: SQLSTATE %s" % (name, expected),
                           "got SQLSTATE %s: %s" % (code, e))
        return self.ok(False, "%s: SQLSTATE %s" % (name, expected), "no error was raised")

    def done(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


def close(a, b, tol):
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=0, abs_tol=tol) for x, y in zip(a, b))
