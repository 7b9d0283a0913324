"""A ``requests.Session`` that answers from a script instead of the network."""

from __future__ import annotations

import json
from typing import Any

import requests


class Answers(requests.Session):
    """Answers each request with the next scripted (status, JSON body) and records it."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append((method, url, kwargs))
        status, body = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = url
        return response

    def header(self, index: int, name: str) -> str:
        return str(self.sent[index][2]["headers"][name])
