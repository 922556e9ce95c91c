"""Every public class and function carries a numpydoc docstring with examples.

For each name in the ``__all__`` of the public modules that is a class or a
function, the docstring (its own, not one inherited from a base class) must

- have an ``Examples`` section whose ``>>>`` examples show at least one
  expected output (the doctests themselves run in ``test_doctests.py``);
- have a ``Parameters`` section naming every required argument when the
  callable has any (arguments with defaults, ``self``, ``*args`` and
  ``**kwargs`` are not required to be listed: trivial ``name=None``
  constructors stay readable).
"""
import doctest
import importlib
import inspect
import re

import pytest

PUBLIC_MODULES = [
    "pyconv",
    "pyconv.functional",
    "pyconv.layers",
    "pyconv.models",
    "pyconv.optimizers",
    "pyconv.losses",
    "pyconv.metrics",
    "pyconv.callbacks",
    "pyconv.image",
    "pyconv.transformers",
    "pyconv.plotting",
    "pyconv.utils",
    "pyconv.activations",
    "pyconv.initializers",
    "pyconv.regularizers",
    "pyconv.saving",
    "pyconv.estimators",
    "pyconv.export",
]

# Gaps in files owned by other work items, reported to their owners. Strict:
# the test fails (XPASS) once a gap is fixed, so this list cannot go stale.
KNOWN_GAPS = {}

_SECTION = re.compile(r"^(?P<title>[A-Z][A-Za-z ]+)\n-{3,}\s*$", re.MULTILINE)


def _sections(doc):
    """``{title: body}`` of the numpydoc sections of a cleaned docstring."""
    matches = list(_SECTION.finditer(doc))
    sections = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(doc)
        sections[match.group("title").strip()] = doc[match.end():end]
    return sections


def _required_parameters(obj):
    """Names of the arguments without a default (no self, *args, **kwargs)."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # some builtins have no signature
        return []
    return [
        p.name for p in signature.parameters.values()
        if p.name not in ("self", "cls")
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and p.default is p.empty
    ]


def _own_docstring(obj):
    doc = obj.__doc__  # a class does not inherit __doc__, unlike inspect.getdoc
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def docstring_problems(obj):
    """What the docstring of ``obj`` lacks, as a list of short messages."""
    doc = _own_docstring(obj)
    if not doc.strip():
        return ["no docstring"]
    problems = []
    sections = _sections(doc)
    examples = sections.get("Examples", "")
    if not examples:
        problems.append("no 'Examples' section")
    elif ">>>" not in examples:
        problems.append("no '>>>' example in the 'Examples' section")
    else:
        parsed = doctest.DocTestParser().get_examples(examples)
        if not any(example.want.strip() for example in parsed):
            problems.append("no example shows an output")
    required = _required_parameters(obj)
    if required:
        parameters = sections.get("Parameters")
        if parameters is None:
            problems.append(f"no 'Parameters' section (takes {', '.join(required)})")
        else:
            documented = set(re.findall(r"^\*{0,2}(\w+)", parameters, re.MULTILINE))
            # numpydoc allows "a, b : type" for several names on one line
            for line in parameters.splitlines():
                head = line.split(" : ")[0]
                if not line.startswith(" ") and "," in head:
                    documented.update(name.strip(" *") for name in head.split(","))
            missing = [name for name in required if name not in documented]
            if missing:
                problems.append(f"'Parameters' does not list {', '.join(missing)}")
    return problems


def _public_names():
    params = []
    for module_name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # not written yet, or an optional extra is missing
            params.append(pytest.param(module_name, None, marks=pytest.mark.skip(
                reason=f"{module_name} not importable: {exc}"), id=f"{module_name}"))
            continue
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name, None)
            if not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue  # submodules, __version__, constants
            marks = ()
            if (module_name, name) in KNOWN_GAPS:
                marks = pytest.mark.xfail(reason=KNOWN_GAPS[module_name, name], strict=True)
            params.append(pytest.param(module_name, name, marks=marks,
                                       id=f"{module_name}.{name}"))
    return params


@pytest.mark.parametrize("module_name, name", _public_names())
def test_public_name_has_numpydoc_examples(module_name, name):
    obj = getattr(importlib.import_module(module_name), name)
    assert docstring_problems(obj) == [], f"{module_name}.{name}"


def test_every_public_module_is_checked():
    names = {param.values[0] for param in _public_names() if param.values[1] is not None}
    for module_name in ("pyconv", "pyconv.functional", "pyconv.layers", "pyconv.models",
                        "pyconv.metrics", "pyconv.callbacks", "pyconv.saving"):
        assert module_name in names


# ----------------------------------------------------------- the checker itself
def _complete(x, scale=1.0):
    """Scale ``x``.

    Parameters
    ----------
    x : float
        The value.
    scale : float, default=1.0
        The factor.

    Examples
    --------
    >>> _complete(2.0)
    2.0
    """
    return x * scale


def _no_examples(x):
    """Scale ``x``.

    Parameters
    ----------
    x : float
    """
    return x


def _silent_examples(a, b):
    """Add.

    Parameters
    ----------
    a, b : float
        The terms.

    Examples
    --------
    >>> total = _silent_examples(1, 2)
    """
    return a + b


def _undocumented_argument(x, y):
    """Combine.

    Parameters
    ----------
    x : float

    Examples
    --------
    >>> _undocumented_argument(1, 2)
    3
    """
    return x + y


class _Base:
    """Base.

    Examples
    --------
    >>> _Base()
    <...>
    """


class _NoOwnDoc(_Base):
    pass


def test_checker_accepts_a_complete_docstring():
    assert docstring_problems(_complete) == []


def test_checker_reports_what_is_missing():
    assert docstring_problems(_no_examples) == ["no 'Examples' section"]
    assert docstring_problems(_silent_examples) == ["no example shows an output"]
    assert docstring_problems(_undocumented_argument) == ["'Parameters' does not list y"]
    assert docstring_problems(_NoOwnDoc) == ["no docstring"]
    assert docstring_problems(_Base) == []


def test_required_parameters_skip_defaults_and_varargs():
    def f(self, a, b=1, *args, c, d=2, **kwargs):
        """Nothing."""

    assert _required_parameters(f) == ["a", "c"]
    assert _required_parameters(_NoOwnDoc) == []
