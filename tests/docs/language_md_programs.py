#!/usr/bin/env python3
"""Every program of docs/language.md compiles to an object.

Usage: language_md_programs.py SORAC SOURCE_DIR

The convention of docs/language.md: a block fenced as ```sora is a whole
.sora file that must compile unchanged; output, grammar and programs that
show a mistake are fenced as ```text (or another tag) and are not compiled.
A bare ``` fence whose first line is a `model` block or a `#` comment is
refused: it must say which of the two it is. Each ```sora block is written
to a file and compiled with `sorac FILE -o FILE.o -O0`, once per model
(`--model NAME`) when it defines several; every run must exit 0 and write
the object. The lit copies tests/lit/IR/language_*.sora (their program
part, the lines before the first `# RUN:`) must each be one of the blocks,
so that the graphs they check are those of the page.
"""
import pathlib
import re
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)\n(.*?)^```", re.M | re.S)
MODEL = re.compile(r"^\s*model\s+([A-Za-z_][A-Za-z0-9_]*)", re.M)


def main():
    sorac, source = sys.argv[1], pathlib.Path(sys.argv[2])
    page = source / "docs" / "language.md"
    if not page.is_file():
        sys.exit(f"FAIL: {page} is missing")
    failures = []
    programs = []
    text = page.read_text()
    for m in FENCE.finditer(text):
        tag, body = m.group(1), m.group(2)
        line = text[: m.start()].count("\n") + 1
        if tag == "sora":
            programs.append((line, body))
        elif tag == "" and re.match(r"\s*(model\s|#)", body):
            failures.append(f"language.md:{line}: a program fenced as bare "
                            "```: fence it as ```sora (compiled) or ```text")
    if len(programs) < 3:
        failures.append(f"language.md has {len(programs)} ```sora programs")

    with tempfile.TemporaryDirectory() as tmp:
        for line, body in programs:
            models = MODEL.findall(body)
            src = pathlib.Path(tmp) / f"line{line}.sora"
            src.write_text(body)
            for model in models if len(models) > 1 else [None]:
                obj = pathlib.Path(tmp) / f"line{line}_{model or 'm'}.o"
                cmd = [sorac, str(src), "-o", str(obj), "-O0"]
                if model:
                    cmd += ["--model", model]
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0 or not obj.is_file():
                    failures.append(
                        f"language.md:{line}: `{' '.join(cmd[1:])}` exited "
                        f"{r.returncode}:\n{r.stderr}")
                else:
                    print(f"ok: language.md:{line}"
                          + (f" --model {model}" if model else ""))

    bodies = {body.strip() for _, body in programs}
    copies = sorted((source / "tests" / "lit" / "IR").glob("language_*.sora"))
    if not copies:
        failures.append("no tests/lit/IR/language_*.sora copies found")
    for copy in copies:
        text = copy.read_text()
        program = text[: text.find("# RUN:")].strip()
        if program not in bodies:
            failures.append(f"{copy.relative_to(source)}: its program is not "
                            "a ```sora block of docs/language.md")

    for f in failures:
        print("FAIL:", f)
    if failures:
        sys.exit(1)
    print(f"{len(programs)} programs of docs/language.md compile")


if __name__ == "__main__":
    main()
