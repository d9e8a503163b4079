"""A real HTTP gateway on loopback in front of a jobtrail server, that misbehaves on cue: for
testing how runners cope with a bad link (a stand-in for a proxy or a struggling server)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HANG = 0  # in a script: never answer


class Gateway:
    """Forwards to the server, except that the requests of `methods` (by default the event
    posts) listed in `script` get that status instead (in order), with the headers given beside
    it, or no answer at all (HANG); records what it did. Token exchanges always pass."""

    def __init__(
        self,
        upstream: str,
        script: list[int | tuple[int, dict[str, str]]],
        methods: tuple[str, ...] = ("POST",),
    ) -> None:
        self.script = list(script)
        self.closed = threading.Event()
        self.seen: list[tuple[str, str, int]] = []  # (method, path, status answered)
        client = httpx.Client(base_url=upstream, timeout=30)
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                scripted = self.command in methods and "/credentials/" not in self.path
                if scripted and gateway.script:
                    entry = gateway.script.pop(0)
                    status, extra = entry if isinstance(entry, tuple) else (entry, {})
                    gateway.seen.append((self.command, self.path, status))
                    if status == HANG:
                        gateway.closed.wait(120)
                        return
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                resp = client.request(self.command, self.path, content=body, headers=headers)
                gateway.seen.append((self.command, self.path, resp.status_code))
                self.send_response(resp.status_code)
                self.send_header("Content-Type", resp.headers.get("content-type", "text/plain"))
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            do_GET = do_POST = do_PUT = _relay

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        self._client = client

    def close(self) -> None:
        self.closed.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._client.close()
