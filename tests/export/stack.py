"""stack.py - the deepest stack of calls into an exported model, from gcc's
call graph (-fcallgraph-info=su, FILE.ci): for every function of the export
that nothing in it calls (its public functions), its own frame plus the
deepest chain of frames under it; functions outside the file (the C
library's) count 0. Prints the largest, in bytes.

    python3 stack.py FILE.ci
"""
import re
import sys

frames, calls = {}, {}
for line in open(sys.argv[1]):
    node = re.match(r'node: \{ title: "([^"]*)" label: "[^"]*\\n(\d+) bytes', line)
    if node:
        frames[node.group(1)] = int(node.group(2))
    edge = re.match(r'edge: \{ sourcename: "([^"]*)" targetname: "([^"]*)"', line)
    if edge:
        calls.setdefault(edge.group(1), set()).add(edge.group(2))


def deepest(f, seen=()):
    if f in seen:
        sys.exit("stack.py: %s calls itself" % f)
    under = [deepest(g, seen + (f,)) for g in calls.get(f, ())]
    return frames.get(f, 0) + max(under, default=0)


called = set().union(*calls.values()) if calls else set()
roots = [f for f in frames if f not in called]
if not roots:
    sys.exit("stack.py: no functions in %s" % sys.argv[1])
print(max(deepest(f) for f in roots))
