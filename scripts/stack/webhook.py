#!/usr/bin/env python3
"""A minimal Alertmanager webhook receiver: prints one JSON line per notification and, with
--out FILE, appends it there too (scripts/stack-test reads that file). The path of the request
(e.g. /critical, /warning) is kept, so a test can tell which route delivered it. Standard library
only; compose/docker-compose.yml runs it as the example receiver.

    python3 webhook.py --port 9095 [--bind 127.0.0.1] [--out notifications.jsonl]
"""

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--out", help="append each notification here as a JSON line")
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                payload = json.loads(body)
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            line = json.dumps({"path": self.path, "payload": payload})
            print(line, flush=True)
            if args.out:
                with open(args.out, "a", encoding="utf-8") as out:
                    out.write(line + "\n")
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_):
            pass  # one line per notification is printed above; no access log

    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    print(f"webhook receiver listening on {args.bind}:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
