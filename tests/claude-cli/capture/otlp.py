import sys, http.server, time, os
n = [0]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        b = self.rfile.read(int(self.headers.get('content-length', 0)))
        n[0] += 1
        name = self.path.strip('/').replace('/', '_')
        open('/tmp/spike/otlp/%03d_%s.%s' % (n[0], name, 'json' if 'json' in self.headers.get('content-type','') else 'pb'), 'wb').write(b)
        self.send_response(200); self.send_header('content-type', 'application/json'); self.send_header('content-length','2'); self.end_headers(); self.wfile.write(b'{}')
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
