"""The HTTP seam called from several threads of one run (``sync/pipeline.py``): the lease
heartbeat, which touches the database, is beaten only in the thread that hung it."""

from __future__ import annotations

import threading
from typing import Any

import requests

from integrations.connectors.http import HttpClient

URL = "https://api.example.com/v1/things"


class OkSession:
    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        return response


def in_threads(count: int, work: Any) -> None:
    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_it_beats_the_heartbeat_only_in_the_thread_that_hung_it() -> None:
    client = HttpClient(app="test", session=OkSession(), max_retries=0)  # type: ignore[arg-type]
    beats: list[str] = []
    client.heartbeat = lambda: beats.append(threading.current_thread().name)
    in_threads(2, lambda: client.request("GET", URL))
    client.request("GET", URL)
    assert beats == [threading.current_thread().name]
