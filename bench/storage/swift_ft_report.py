"""A pytest plugin for tend's runs of Swift's functional suite (bench/storage/swift-functional.ts).

Writes one JSON line per test phase (setup, call, teardown: outcome, reason, seconds) to
$TEND_SWIFT_FT_REPORT, so the runner reads outcomes and times without parsing pytest's text.
A bare `raise SkipTest` has no reason; the `if` above it says why instead.
"""
import json
import linecache
import os
import sys

from _pytest.unittest import TestCaseFunction

_out = None
# node id -> the condition above a bare `raise SkipTest`
_skip_conditions = {}


def _condition_of(tb):
    """The `if` line above the raise a traceback ends in, if there is one."""
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return None
    path, lineno = tb.tb_frame.f_code.co_filename, tb.tb_lineno
    for line in (lineno - 1, lineno - 2):
        text = linecache.getline(path, line).strip()
        if text.startswith(('if ', 'elif ')):
            return text
    return None


def pytest_configure(config):
    global _out
    path = os.environ.get('TEND_SWIFT_FT_REPORT')
    if path:
        _out = open(path, 'w', buffering=1)
    # unittest hands pytest only the skip's message; while addSkip runs, the SkipTest being
    # handled still has its traceback, which says where it was raised.
    add_skip = TestCaseFunction.addSkip

    def add_skip_noting_where(self, testcase, reason):
        condition = _condition_of(sys.exc_info()[2])
        if condition:
            _skip_conditions[self.nodeid] = condition
        return add_skip(self, testcase, reason)

    TestCaseFunction.addSkip = add_skip_noting_where


def _skip_reason(report):
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    reason = reason[len('Skipped: '):] if reason.startswith('Skipped: ') else reason
    if reason in ('', 'Skipped') and report.nodeid in _skip_conditions:
        return 'Skipped (%s)' % _skip_conditions[report.nodeid]
    return reason


def _failure_message(report):
    lines = report.longreprtext.splitlines()
    errors = [line[1:].strip() for line in lines if line.startswith('E ')]
    text = ' | '.join(errors) if errors else (lines[-1] if lines else '')
    return text[:500]


def pytest_runtest_logreport(report):
    if _out is None:
        return
    entry = {'id': report.nodeid, 'when': report.when, 'outcome': report.outcome}
    if report.outcome == 'skipped':
        entry['reason'] = _skip_reason(report)
    elif report.outcome == 'failed':
        entry['message'] = _failure_message(report)
    entry['seconds'] = round(report.duration, 3)
    _out.write(json.dumps(entry) + '\n')


def pytest_unconfigure(config):
    if _out is not None:
        _out.close()
