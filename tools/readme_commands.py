"""Print the README's quick-start commands, one per line, in order.

They are the lines of the ```bash blocks between the "## Quick start" heading
and the next second-level heading. `.ci/run` runs exactly what this prints,
from the root of a fresh clone, so the README cannot drift from what CI
checks; tests/test_readme.py checks the extraction.

Usage: python tools/readme_commands.py [README.md]
"""
import pathlib
import re
import sys

_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)


def quick_start_commands(text):
    """The commands of the quick-start section of a README's ``text``."""
    match = re.search(r"^## Quick start\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    if match is None:
        raise ValueError("the README has no '## Quick start' section")
    commands = []
    for block in _BLOCK.findall(match.group(1)):
        commands += [line for line in block.splitlines()
                     if line.strip() and not line.lstrip().startswith("#")]
    return commands


def main(argv):
    path = pathlib.Path(argv[1] if len(argv) > 1 else "README.md")
    print("\n".join(quick_start_commands(path.read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
