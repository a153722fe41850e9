#!/usr/bin/env python3
"""Files small enough to read in one sitting, functions short enough to see
whole (issue 12, CONTRIBUTING.md): no C++ source over MAX_FILE lines and no
function over MAX_FUNCTION lines, outside generated code. A function is a
definition whose body opens at the end of a line and closes with a `}` at
the same indentation as its first line (Google style, clang-format'd).
Usage: check_sizes.py [ROOT]; prints each offender and exits 1 if any."""
import os
import re
import subprocess
import sys

MAX_FILE = 400
MAX_FUNCTION = 80
SOURCE = re.compile(r"\.(cc|h|cpp|c)$")
# Lines at column 0 that open no function.
NOT_FUNCTION = re.compile(r"^(namespace|class|struct|enum|union|extern)\b|=\s*\{$")


def tracked_sources(root):
    out = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True,
                         check=True).stdout.split()
    return [f for f in out if SOURCE.search(f) and not f.startswith("guest-linux/")]


def functions(lines):
    """(start line, length, signature) of each function defined at column 0
    (Google style: definitions in a namespace are not indented): from its
    signature's first line to the `}` at column 0 that closes it."""
    start = None
    for i, line in enumerate(lines):
        if start is None:
            if not line or line[0] in " \t#/}" or NOT_FUNCTION.search(line):
                continue
            if line.startswith(("namespace", "using", "template", "typedef", "static_assert")):
                continue
            if "(" in line:
                start = i
            continue
        if line.startswith("}"):
            yield start + 1, i - start + 1, lines[start].strip()
            start = None
        elif line.rstrip().endswith(";") and not line.startswith((" ", "\t")):
            start = None  # a declaration, not a definition
        elif line and line[0] not in " \t}" and "(" in line and not line.startswith(("//", "#")):
            start = i if not lines[i - 1].rstrip().endswith((",", "(")) else start


MEMBER = re.compile(r"^  [A-Za-z~].*\)[^;]*\{$")
CONTROL = re.compile(r"^\s*(if|else|for|while|switch|do|try|catch|return|case)\b")


def members(lines):
    """Member functions defined inside a class body (indent 2), one-line
    signatures: to the `  }` that closes them."""
    for i, line in enumerate(lines):
        if not MEMBER.match(line) or CONTROL.match(line) or "= [" in line:
            continue
        for k in range(i + 1, len(lines)):
            if lines[k].startswith("  }"):
                yield i + 1, k - i + 1, line.strip()
                break
            if lines[k] and not lines[k].startswith("  "):
                break


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    bad = []
    for path in tracked_sources(root):
        with open(os.path.join(root, path), errors="replace") as f:
            lines = f.read().split("\n")
        if len(lines) - 1 > MAX_FILE:
            bad.append(f"{path}: {len(lines) - 1} lines (at most {MAX_FILE})")
        if path.startswith("guest-probe/") and path.endswith((".c", ".h")):
            pass  # the model kernel is C, same rule
        for start, n, sig in list(functions(lines)) + list(members(lines)):
            if n > MAX_FUNCTION:
                bad.append(f"{path}:{start}: {sig[:60]} is {n} lines (at most {MAX_FUNCTION})")
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
