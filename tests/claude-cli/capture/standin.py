import json, sys, time, http.server, threading
calls = []
log = open('/tmp/spike/requests.jsonl', 'a')
state = {'n': 0, 'main': 0, 'err': 0}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(404); self.send_header('content-length','0'); self.end_headers()
    def do_HEAD(self): self.do_GET()
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('content-length', 0)))
        try: req = json.loads(body)
        except Exception: req = {}
        state['n'] += 1
        sysp = json.dumps(req.get('system', ''))[:200]
        log.write(json.dumps({'path': self.path, 'n': state['n'], 'stream': req.get('stream'), 'model': req.get('model'), 'max_tokens': req.get('max_tokens'), 'nmsg': len(req.get('messages', [])), 'sys': sysp, 'tools': [t.get('name') for t in req.get('tools', [])][:50], 'headers': dict(self.headers)}) + '\n'); log.flush()
        if 'count_tokens' in self.path:
            return self.json(200, {'input_tokens': 10})
        msgs = req.get('messages', [])
        is_main = bool(req.get('tools'))
        if is_main and state['err'] < 1 and state['main'] == 0:
            state['err'] += 1
            return self.json(429, {'type':'error','error':{'type':'rate_limit_error','message':'slow down'}}, {'retry-after': '1'})
        if is_main: state['main'] += 1
        # decide answer: if last user message has tool_result -> final text; else tool_use Write
        last = msgs[-1] if msgs else {}
        has_result = isinstance(last.get('content'), list) and any(c.get('type') == 'tool_result' for c in last['content'])
        if is_main and not has_result:
            content = [{'type': 'text', 'text': 'Writing the file.'}, {'type': 'tool_use', 'id': 'toolu_01', 'name': 'Write', 'input': {'file_path': '/tmp/spike/work/hello.txt', 'content': 'hello\n'}}]
            stop = 'tool_use'
        else:
            content = [{'type': 'text', 'text': 'Done.' if is_main else 'Title'}]
            stop = 'end_turn'
        usage = {'input_tokens': 100 + state['n'], 'output_tokens': 20 + state['n'], 'cache_read_input_tokens': 1000, 'cache_creation_input_tokens': 300, 'cache_creation': {'ephemeral_5m_input_tokens': 100, 'ephemeral_1h_input_tokens': 200}}
        mid = 'msg_%02d' % state['n']
        if req.get('stream'):
            self.send_response(200)
            self.send_header('content-type', 'text/event-stream'); self.send_header('request-id', 'req_%02d' % state['n'])
            self.send_header('transfer-encoding', 'chunked'); self.end_headers()
            time.sleep(0.3)
            def ev(t, d):
                s = ('event: %s\ndata: %s\n\n' % (t, json.dumps(d))).encode()
                self.wfile.write(b'%x\r\n%s\r\n' % (len(s), s)); self.wfile.flush()
            ev('message_start', {'type':'message_start','message':{'id':mid,'type':'message','role':'assistant','model':req.get('model'),'content':[],'stop_reason':None,'stop_sequence':None,'usage':dict(usage, output_tokens=1)}})
            for i, c in enumerate(content):
                if c['type'] == 'text':
                    ev('content_block_start', {'type':'content_block_start','index':i,'content_block':{'type':'text','text':''}})
                    ev('content_block_delta', {'type':'content_block_delta','index':i,'delta':{'type':'text_delta','text':c['text']}})
                else:
                    ev('content_block_start', {'type':'content_block_start','index':i,'content_block':{'type':'tool_use','id':c['id'],'name':c['name'],'input':{}}})
                    ev('content_block_delta', {'type':'content_block_delta','index':i,'delta':{'type':'input_json_delta','partial_json':json.dumps(c['input'])}})
                ev('content_block_stop', {'type':'content_block_stop','index':i})
                time.sleep(0.1)
            ev('message_delta', {'type':'message_delta','delta':{'stop_reason':stop,'stop_sequence':None},'usage':{'output_tokens':usage['output_tokens']}})
            ev('message_stop', {'type':'message_stop'})
            self.wfile.write(b'0\r\n\r\n'); self.wfile.flush()
        else:
            self.json(200, {'id':mid,'type':'message','role':'assistant','model':req.get('model'),'content':content,'stop_reason':stop,'stop_sequence':None,'usage':usage})
    def json(self, code, obj, extra={}):
        b = json.dumps(obj).encode()
        self.send_response(code); self.send_header('content-type','application/json'); self.send_header('content-length', str(len(b)))
        self.send_header('request-id', 'req_%02d' % state['n'])
        for k, v in extra.items(): self.send_header(k, v)
        self.end_headers(); self.wfile.write(b)
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
