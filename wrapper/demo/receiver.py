"""A webhook receiver for trying the demo: prints each delivery and verifies its
Standard Webhooks signature with the `standardwebhooks` library.

    python -m wrapper.demo.receiver --port 9000 --secret whsec_...   # or WEBHOOK_SECRET=...

It answers 204 to a delivery whose signature verifies and 400 to one that does
not (the wrapper then retries it). Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def verifier(secret: str | None) -> Any:
    if not secret:
        return None
    from standardwebhooks.webhooks import Webhook

    return Webhook(secret)


def handler(check: Any, out: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, verdict = 204, "not verified (no --secret)"
            if check is not None:
                try:
                    check.verify(body, headers)
                    verdict = "signature verified"
                except Exception as err:  # the library raises its own verification errors
                    status, verdict = 400, f"REFUSED: {err}"
            try:
                event = json.loads(body)
            except ValueError:
                event = {"body": body.decode("utf-8", "replace")}
            print(
                f"{headers.get('webhook-id')} {event.get('type')} {event.get('subject', '')}"
                f" ({verdict})\n{json.dumps(event.get('data'), indent=2)}",
                file=out,
                flush=True,
            )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", default=os.environ.get("WEBHOOK_SECRET"))
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(
        ("127.0.0.1", args.port), handler(verifier(args.secret), sys.stdout)
    )
    print(f"receiving webhooks at http://127.0.0.1:{server.server_port}/hook", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
