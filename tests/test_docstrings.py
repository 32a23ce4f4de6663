"""Every public name has a complete numpy-style docstring.

The docstrings are the API reference of the site (mkdocstrings, numpy style) and
their Examples run as doctests (``--doctest-modules``); here we check that nothing
is missing. A function needs Parameters, Returns, Raises and Examples. A class
documents its constructor (Parameters, Raises, Examples) and each public method
says what it takes and returns.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

import pytest

import attention_ref

PUBLIC = sorted(attention_ref.__all__)
FUNCTIONS = [name for name in PUBLIC if inspect.isfunction(getattr(attention_ref, name))]
CLASSES = [name for name in PUBLIC if inspect.isclass(getattr(attention_ref, name))]


def sections(obj: object) -> dict[str, str]:
    """Split a numpy-style docstring into {section title: body}."""
    doc = inspect.getdoc(obj) or ""
    # A section is a title line underlined by a line of dashes.
    parts = re.split(r"^([A-Z][A-Za-z ]+)\n-+$", doc, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def documented_parameters(obj: object) -> set[str]:
    """Names in the Parameters section; ``a, b : type`` documents both a and b."""
    entries = re.findall(r"^(\w+(?:, \w+)*) :", sections(obj).get("Parameters", ""), re.M)
    return {name for entry in entries for name in entry.split(", ")}


def parameters(function: Callable) -> set[str]:
    return {name for name in inspect.signature(function).parameters if name not in ("self", "cls")}


def public_methods(cls: type) -> dict[str, Callable]:
    """Methods that a user calls, including ``__call__``: the class's own and those it
    inherits from the package's private bases (the reference shows them too)."""
    methods = {}
    for owner in reversed([c for c in cls.__mro__ if c.__module__.startswith("attention_ref")]):
        for name, member in vars(owner).items():
            if isinstance(member, (classmethod, staticmethod)):
                member = member.__func__
            if inspect.isfunction(member) and (name == "__call__" or not name.startswith("_")):
                methods[name] = member
    return methods


def test_all_names_are_functions_or_classes() -> None:
    assert set(FUNCTIONS) | set(CLASSES) == set(PUBLIC)
    assert "softmax" in FUNCTIONS  # guard against an empty or broken __all__


def test_package_has_a_docstring() -> None:
    assert inspect.getdoc(attention_ref)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_docstring_has_the_numpy_sections(name: str) -> None:
    function = getattr(attention_ref, name)
    found = sections(function)
    missing = [s for s in ("Parameters", "Returns", "Raises", "Examples") if s not in found]
    assert not missing, f"{name}'s docstring lacks {missing}"
    assert inspect.getdoc(function).splitlines()[0].endswith("."), f"{name}: summary line"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_parameters_are_all_documented(name: str) -> None:
    function = getattr(attention_ref, name)
    assert documented_parameters(function) == parameters(function), name


@pytest.mark.parametrize("name", CLASSES)
def test_class_docstring_documents_the_constructor(name: str) -> None:
    cls = getattr(attention_ref, name)
    found = sections(cls)
    missing = [s for s in ("Parameters", "Raises", "Examples") if s not in found]
    assert not missing, f"{name}'s docstring lacks {missing}"
    assert documented_parameters(cls) == parameters(cls), name


@pytest.mark.parametrize(
    ("name", "method"),
    [(cls, method) for cls in CLASSES for method in public_methods(getattr(attention_ref, cls))],
)
def test_class_methods_document_parameters_and_returns(name: str, method: str) -> None:
    function = public_methods(getattr(attention_ref, name))[method]
    assert "Returns" in sections(function), f"{name}.{method} has no Returns section"
    assert documented_parameters(function) == parameters(function), f"{name}.{method}"


@pytest.mark.parametrize("name", PUBLIC)
def test_raises_lists_exception_types(name: str) -> None:
    listed = re.findall(r"^(\w+Error)$", sections(getattr(attention_ref, name))["Raises"], re.M)
    assert listed, f"{name}'s Raises section lists no exception type"
    assert set(listed) <= {"TypeError", "ValueError", "IndexError"}


@pytest.mark.parametrize("name", PUBLIC)
def test_examples_use_the_name(name: str) -> None:
    examples = sections(getattr(attention_ref, name))["Examples"]
    # A call such as `softmax(...)` or, for a class, `SelfAttention.random(...)`.
    assert re.search(rf"^(>>>|\.\.\.) .*\b{name}(\.\w+)?\(", examples, flags=re.M), (
        f"{name}'s Examples never call it"
    )


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_have_type_hints(name: str) -> None:
    signature = inspect.signature(getattr(attention_ref, name))
    assert signature.return_annotation is not inspect.Signature.empty, name
    for parameter in signature.parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty, f"{name}({parameter.name})"
