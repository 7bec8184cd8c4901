"""Linear measurement operators with exact adjoints."""

from .base import LinearOperator, MatrixOperator

__all__ = ["LinearOperator", "MatrixOperator"]
