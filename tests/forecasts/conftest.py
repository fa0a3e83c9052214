"""Fixtures of the carbon-signal tests."""

from __future__ import annotations

import pytest

from forecasts.validation import ValidationRules


@pytest.fixture
def rules() -> ValidationRules:
    """The default validation rules."""
    return ValidationRules()
