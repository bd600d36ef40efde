#!/usr/bin/env python3
"""Every relative reference in README.md and docs/*.md names a file of the
repository.

Usage: relative_links.py SOURCE_DIR

Checked: the targets of Markdown links and images, `[text](target)`
(resolved against the page's directory; web addresses and `#anchors` are
skipped), and repository paths written as code, `docs/api.md` or
`examples/binary/` (resolved against the repository root or the page's
directory; patterns with `*` or `<...>` and placeholders such as
`TARGET` are skipped). Nothing may
point outside the repository: a fresh clone has no `../shared`.
"""
import pathlib
import re
import sys

LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\s]+)`")
TOP = ("docs/", "examples/", "tests/", "runtime/", "compiler/", "dsl/",
       "bench/", "scripts/", "cmake/")


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    pages = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    failures = []
    checked = 0

    def check(page, line, target, bases):
        nonlocal checked
        checked += 1
        for base in bases:
            path = (base / target).resolve()
            if path.exists() and path.is_relative_to(root):
                return
        failures.append(f"{page.relative_to(root)}:{line}: '{target}' does "
                        "not name a file of the repository")

    for page in pages:
        text = page.read_text()
        for number, line in enumerate(text.splitlines(), 1):
            if "../shared" in line:
                failures.append(f"{page.relative_to(root)}:{number}: refers "
                                "to ../shared, outside the repository")
        for m in LINK.finditer(text):
            target = m.group(1).split("#")[0]
            if not target or re.match(r"[a-z]+:", target):
                continue
            line = text[: m.start()].count("\n") + 1
            check(page, line, target, [page.parent])
        for m in CODE.finditer(text):
            target = m.group(1)
            if any(c in target for c in "*<$") or any(
                    re.fullmatch(r"[A-Z_]+", part)
                    for part in target.split("/")):
                continue  # a pattern or a placeholder (TARGET)
            if target.startswith(TOP) or (target.endswith(".md")
                                          and "/" in target):
                line = text[: m.start()].count("\n") + 1
                check(page, line, target, [root, page.parent])

    for f in failures:
        print("FAIL:", f)
    if failures:
        sys.exit(1)
    print(f"{checked} references in {len(pages)} pages name files of the "
          "repository")


if __name__ == "__main__":
    main()
