"""companion: an AI companion that remembers, feels, reflects and reaches out, built on LangGraph."""

__version__ = "0.1.0"
