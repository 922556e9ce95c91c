"""The documentation site's sources: every example renders in the gallery.

sphinx-gallery needs each ``examples/*.py`` to open with a docstring whose
first line is a title underlined with ``=`` (docs/ builds with warnings as
errors, so an untitled example breaks the site).
"""
import pathlib

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).resolve().parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_has_a_gallery_title(script):
    first, second = script.read_text(encoding="utf-8").splitlines()[:2]
    assert first.startswith('"""') and len(first) > 3, \
        f"{script.name}: the docstring's first line is the gallery title"
    assert second == "=" * len(first[3:]), \
        f"{script.name}: underline the title with {len(first[3:])} '=' (sphinx-gallery)"
