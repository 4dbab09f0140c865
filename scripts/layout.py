#!/usr/bin/env python3
"""The layout rules that a reader relies on, checked (ARCHITECTURE.md, "Invariants"):

- no import circle between the files (modules) of one crate: `use crate::…` and `crate::…`
  paths are read from every non-test line of `crates/<crate>/src`, and a cycle is reported
  with its path;
- no non-test part of a source file over 600 lines (test modules at the end do not count).

Function length is clippy's `too_many_lines` (threshold in clippy.toml). Exit 1 on a finding.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAX_LINES = 600
USE = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)(?:::([a-z_][a-z0-9_]*))?")
GROUP = re.compile(r"use crate::\{([^;]*)\};", re.S)


def non_test(text: str) -> str:
    """The file up to its `#[cfg(test)]` module."""
    cut = re.search(r"^#\[cfg\(test\)\]", text, re.M)
    return text[: cut.start()] if cut else text


def module_of(src: pathlib.Path, path: pathlib.Path) -> str:
    rel = path.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(parts) or "crate"


def modules(src: pathlib.Path) -> dict[str, str]:
    return {module_of(src, p): non_test(p.read_text()) for p in src.rglob("*.rs")}


def resolve(known: set[str], first: str, second: str | None) -> str | None:
    if second and f"{first}::{second}" in known:
        return f"{first}::{second}"
    return first if first in known else None


def edges(mods: dict[str, str]) -> dict[str, set[str]]:
    known = set(mods)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, text in mods.items():
        text = re.sub(r"//[^\n]*", "", text)
        targets = []
        for m in USE.finditer(text):
            targets.append(resolve(known, m.group(1), m.group(2)))
        for g in GROUP.finditer(text):
            for item in re.split(r",\s*(?![^{]*\})", g.group(1)):
                item = item.strip()
                head = re.match(r"([a-z_][a-z0-9_]*)(?:::([a-z_][a-z0-9_]*))?", item)
                if head:
                    targets.append(resolve(known, head.group(1), head.group(2)))
        for t in targets:
            # A module may use its own children and its parent's declarations freely: the
            # rule is about siblings and cousins pointing back at each other.
            if t and t != name and not t.startswith(name + "::") and not name.startswith(t + "::"):
                graph[name].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    problems = []
    for src in sorted(ROOT.glob("crates/*/src")) + [ROOT / "bench/src"]:
        mods = modules(src)
        for comp in cycles(edges(mods)):
            problems.append(f"{src.parent.name}: import circle between {', '.join(comp)}")
    for path in sorted(list(ROOT.glob("crates/*/src/**/*.rs")) + list(ROOT.glob("bench/src/**/*.rs"))):
        lines = non_test(path.read_text()).count("\n")
        if lines > MAX_LINES:
            problems.append(f"{path.relative_to(ROOT)}: {lines} lines outside tests (at most {MAX_LINES})")
    for p in problems:
        print(p)
    if problems:
        return 1
    print("layout: no import circles; no file over", MAX_LINES, "lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
