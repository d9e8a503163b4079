"""The demo's own webhook receiver on loopback: it checks each alert's HMAC signature (as the
README tells receivers to) and prints one line per alert, so `jobtrail demo` shows real alerts
arriving through a real channel."""

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

Printer = Callable[[str], None]


class DemoReceiver:
    def __init__(self, show: Printer) -> None:
        self.secret = secrets.token_hex(16)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stamp = self.headers.get("X-Jobtrail-Timestamp", "")
                mac = hmac.new(
                    receiver.secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256
                )
                good = hmac.compare_digest(
                    self.headers.get("X-Jobtrail-Signature", ""), "sha256=" + mac.hexdigest()
                )
                alert = orjson.loads(raw)
                mark = "signed" if good else "BAD SIGNATURE"
                show(f"alert ({mark}): {alert['text'].splitlines()[0].strip('*')}")
                self.send_response(200 if good else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/alerts"
        threading.Thread(target=self.httpd.serve_forever, name="demo-receiver", daemon=True).start()

    def write_config(self, path: Path) -> Path:
        """The server's alerts configuration: every alert to this receiver."""
        path.write_text(
            '[defaults]\non = ["failed", "stuck", "recovered"]\nchannels = ["demo-hook"]\n\n'
            f'[channels.demo-hook]\ntype = "webhook"\nurl = "{self.url}"\n'
            f'secret = "{self.secret}"\n'
        )
        return path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
