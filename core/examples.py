"""Examples for the API's documentation, made of the fields' own: a model's example is the first
example of each of its fields, so a field holding another model shows that model's example and the
two never drift apart."""

from __future__ import annotations

from pydantic import BaseModel


def example_of(model: type[BaseModel]) -> dict:
    """The first example of each field of ``model`` that has one, as JSON would show it."""
    return {name: field.examples[0] for name, field in model.model_fields.items() if field.examples}
