#!/usr/bin/env python3
"""
run - runs the integration tests (tests/integration/test_*.py, unittest)
against the binary in $POSTHORN_BIN (default build/posthorn) and prints
one line per test and a final "RESULT passed=N failed=M".

    tests/integration/run.py [-k SUBSTRING] [MODULE ...]
"""
import argparse
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.time()
        super().startTest(test)

    def _line(self, status, test):
        dt = time.time() - getattr(self, "_t0", time.time())
        self.stream.write(f"{status:4} {test.id()} ({dt:.1f}s)\n")
        self.stream.flush()

    def addSuccess(self, test):
        unittest.TestResult.addSuccess(self, test)
        self._line("ok", test)

    def _detail(self, err, test):
        # The traceback right under its line: a CI excerpt around the
        # FAIL shows why, not only that.
        text = self._exc_info_to_string(err, test).rstrip("\n")
        self.stream.write("".join(f"     | {ln}\n"
                                  for ln in text.splitlines()[-40:]))
        # and the server's log, unless the test class prints it itself
        srv = getattr(test, "srv", None)
        if hasattr(srv, "read_log") and \
                type(test).run is unittest.TestCase.run:
            try:
                log = srv.read_log()[-3000:]
            except OSError:
                log = ""
            self.stream.write("".join(f"     log {ln}\n"
                                      for ln in log.splitlines()))
        self.stream.flush()

    def addFailure(self, test, err):
        unittest.TestResult.addFailure(self, test, err)
        self._line("FAIL", test)
        self._detail(err, test)

    def addError(self, test, err):
        unittest.TestResult.addError(self, test, err)
        self._line("ERR", test)
        self._detail(err, test)

    def addSkip(self, test, reason):
        unittest.TestResult.addSkip(self, test, reason)
        self._line("skip", test)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", action="append", default=[])
    ap.add_argument("modules", nargs="*")
    args = ap.parse_args()
    loader = unittest.TestLoader()
    if args.k:
        loader.testNamePatterns = [f"*{k}*" for k in args.k]
    if args.modules:
        suite = unittest.TestSuite(loader.loadTestsFromName(m)
                                   for m in args.modules)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=0,
                                     resultclass=Result)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors)
    passed = res.testsRun - failed - len(res.skipped)
    print(f"RESULT passed={passed} failed={failed} skipped={len(res.skipped)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
