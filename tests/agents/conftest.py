"""Fixtures for LLM-agent tests: a real OpenAI-compatible server on loopback.

Reuse from another test directory (``tests/<area>/conftest.py``)::

    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agents"))
    from openai_server import ScriptedOpenAIServer  # noqa: E402

    @pytest.fixture
    def openai_server():
        with ScriptedOpenAIServer() as server:
            yield server
"""

from __future__ import annotations

import pytest

from openai_server import ScriptedOpenAIServer

_OPENAI_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "DYGRAPH_MODEL")


@pytest.fixture
def openai_server():
    """A started `ScriptedOpenAIServer` (see tests/agents/openai_server.py); stopped afterwards."""
    with ScriptedOpenAIServer() as server:
        yield server


@pytest.fixture
def clean_openai_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No OPENAI_* / DYGRAPH_MODEL from the developer's shell leaks into a test."""
    for name in _OPENAI_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch
