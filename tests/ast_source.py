"""``ast.parse`` for the tests that read source (the architecture and import-cycle checks).

On CPython 3.11.7 a RecursionError anywhere in a thread (the deep-JSON tests raise some) leaves
``ast.parse`` broken in that thread for good ("AST constructor recursion depth mismatch", CPython
gh-106905), so such a test failed or passed depending on which tests ran before it. A new thread
starts with fresh counters: parse there.
"""

import ast
from concurrent.futures import ThreadPoolExecutor


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    with ThreadPoolExecutor(max_workers=1) as fresh:
        return fresh.submit(ast.parse, source, filename).result()
