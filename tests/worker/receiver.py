"""A real webhook receiver on loopback: checks each alert's HMAC signature the way the README
tells receivers to, records what arrived, and answers from a script of statuses."""

import hashlib
import hmac
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

HANG = 0  # in a script: read the request, never answer


@dataclass
class Received:
    key: str
    body: dict[str, Any]
    signed: bool  # the signature matched
    status: int  # what the receiver answered


class Receiver:
    def __init__(self, secret: str, script: list[int] | None = None) -> None:
        self.secret = secret
        self.script = list(script or [])
        self.received: list[Received] = []
        self.released = threading.Event()  # ends the wait of requests answered with HANG
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stamp = self.headers.get("X-Jobtrail-Timestamp", "")
                given = self.headers.get("X-Jobtrail-Signature", "")
                expected = hmac.new(
                    receiver.secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256
                ).hexdigest()
                status = receiver.script.pop(0) if receiver.script else 200
                receiver.received.append(
                    Received(
                        self.headers.get("Idempotency-Key", ""),
                        orjson.loads(raw),
                        hmac.compare_digest(given, "sha256=" + expected),
                        status,
                    )
                )
                if status == HANG:
                    receiver.released.wait(120)
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def delivered(self) -> list[Received]:
        return [r for r in self.received if r.status < 300]

    def close(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
