#!/usr/bin/python3
"""A local model server for the remote-model tests, which misbehaves on request.

It speaks the OpenAI shapes (chat/completions, completions, embeddings) with
outputs derived from the inputs, and KServe v2 / Open Inference Protocol
(POST /v2/models/NAME/infer, GET /v2/models/NAME) over two fixed models whose
outputs a test can compute:

    linear    3 features -> "predict" [n, 1]:  0.5 x0 - 1.25 x1 + 2 x2 + 0.25
    logistic  4 features -> "probabilities" [n, 2]: [1 - p, p],
              p = sigmoid(x0 - 2 x1 + 0.5 x2 + 3 x3 - 0.5)
    fraud30   30 features, likewise, w_j = ((7 j) % 11 - 5) / 10, b = 0.1

Embeddings: component j of the embedding of text t is
(sha256(t)[j % 32] - 128) / 128, for j < dimensions (8 unless asked).
Chat and completions answer "echo: " + the (last) prompt, cut to max_tokens
characters (finish_reason "length") when that is given.

GET /blob?size=N&seed=S sends N bytes, byte i being (i * 31 + S) % 251
(gzip-encoded with gzip=1).  GET /files/NAME sends the file NAME of the
directory given by --files (no subdirectories).

Misbehaviour, by query parameters on any path:
    status=N [msg=TEXT]   answer HTTP N with {"error": {"message": TEXT}}
      [echo_auth=1]       ... TEXT followed by the Authorization header received
      [body_hex=HEX]      ... or with exactly these bytes
    key=K times=T         ... only for the first T requests carrying key K
    retry_after=S         with a Retry-After header of S seconds
    retry_after_date=S    ... as an HTTP date S seconds ahead
    sleep=S               wait S seconds before answering
    stall=S               send the headers and half the body, wait S seconds
    bad=WHAT              a wrong body (see BAD_* below), HTTP 200
    malformed=1           a body that is not JSON
    huge=N [chunked=1]    an N-byte body, streamed in 64 kB pieces
    endless=1             a chunked body that never ends
    redirect=URL          302 to URL
    close_mid=1           promise 1000 bytes, send 100, close
    close_now=1           close the connection without answering
    garbage=1             answer with bytes that are not HTTP

The same parameters may come first in the path instead, as /q/PARAMS/rest
(e.g. /q/status=500&times=2&key=k1/v2/models/linear/infer): a client whose
base URL may carry no query (a KServe endpoint's) asks for faults so.

Every request is logged as one JSON line in --log, before it is answered:
time, method, path, query, connection number, the header names and values (but
the Authorization value, replaced by whether it was the expected one, from
the environment variable MAAS_TEST_AUTH), and the body's length.

    server.py [--log FILE] [--port 0] [--tls DIR] [--files DIR]
                                        prints "PORT n" once listening

With --tls it speaks HTTPS with DIR/cert.pem and DIR/key.pem.
"""

import argparse
import email.utils
import gzip
import hashlib
import json
import math
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODELS = {
    "linear": {"weights": [[0.5, -1.25, 2.0]], "bias": [0.25],
               "output": "predict", "link": "identity"},
    "logistic": {"weights": [[1.0, -2.0, 0.5, 3.0]], "bias": [-0.5],
                 "output": "probabilities", "link": "sigmoid2"},
    # for the benchmarks: 30 features, as a fraud model might have
    "fraud30": {"weights": [[((j * 7) % 11 - 5) / 10.0 for j in range(30)]], "bias": [0.1],
                "output": "probabilities", "link": "sigmoid2"},
}

LOCK = threading.Lock()
COUNTS = {}                 # key -> requests seen
STATE = {"conn": 0, "seq": 0, "log": None, "files": None}


def next_conn():
    with LOCK:
        STATE["conn"] += 1
        return STATE["conn"]


def log_request(record):
    if STATE["log"] is None:
        return
    with LOCK:
        STATE["seq"] += 1
        record["seq"] = STATE["seq"]
        STATE["log"].write(json.dumps(record) + "\n")
        STATE["log"].flush()


def count_key(key):
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + 1
        return COUNTS[key]


def embedding(text, dims):
    h = hashlib.sha256(text.encode("utf-8")).digest()
    return [(h[j % 32] - 128) / 128.0 for j in range(dims)]


def predict(model, rows):
    m = MODELS[model]
    out = []
    for x in rows:
        z = sum(w * v for w, v in zip(m["weights"][0], x)) + m["bias"][0]
        if m["link"] == "identity":
            out.append([z])
        else:
            p = 1.0 / (1.0 + math.exp(-z))
            out.append([1.0 - p, p])
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "maas-test"

    def setup(self):
        super().setup()
        self.conn_id = next_conn()
        # headers and body go out in separate writes: without this, Nagle's
        # algorithm holds the body until the client's delayed ACK (40 ms)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        pass                # the JSON log is the log

    # ---- plumbing ----

    def send_json(self, status, obj, extra=None):
        body = obj if isinstance(obj, (bytes, bytearray)) else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_error_json(self, status, message, extra=None):
        self.send_json(status, {"error": {"message": message, "type": "test"}}, extra)

    def stream(self, total, chunked):
        piece = b"x" * 65536
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        sent = 0
        try:
            while sent < total:
                n = min(len(piece), total - sent)
                if chunked:
                    self.wfile.write(b"%x\r\n" % n + piece[:n] + b"\r\n")
                else:
                    self.wfile.write(piece[:n])
                sent += n
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def endless(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self.wfile.write(b"1\r\n[\r\n")
            while True:
                self.wfile.write(b"2\r\n0,\r\n")
                self.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    # ---- requests ----

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        path = url.path
        query = url.query
        if path.startswith("/q/"):
            params, _, rest = path[3:].partition("/")
            q.update(urllib.parse.parse_qsl(params, keep_blank_values=True))
            path = "/" + rest
            query = params + ("&" + query if query else "")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""

        expected = os.environ.get("MAAS_TEST_AUTH")
        got = self.headers.get("Authorization")
        if got is None:
            auth = "missing"
        elif expected is None:
            auth = "present"
        else:
            auth = "ok" if got == "Bearer " + expected else "wrong"
        log_request({
            "t": time.time(), "conn": self.conn_id, "method": method, "path": path,
            "query": query, "auth": auth, "body_len": len(body),
            "headers": {k: v for k, v in self.headers.items()
                        if k.lower() != "authorization"},
        })

        if self.misbehave(q):
            return
        try:
            self.route(method, path, q, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def misbehave(self, q):
        """Answer a requested fault; True when the request is done with."""
        if "key" in q and "times" in q and count_key(q["key"]) > int(q["times"]):
            return False            # the fault is over: answer normally
        if "sleep" in q:
            time.sleep(float(q["sleep"]))
        if "close_now" in q:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if "garbage" in q:
            self.wfile.write(b"hello there\r\n\r\n")
            self.close_connection = True
            return True
        if "status" in q:
            extra = {}
            if "retry_after" in q:
                extra["Retry-After"] = q["retry_after"]
            if "retry_after_date" in q:
                extra["Retry-After"] = email.utils.formatdate(
                    time.time() + float(q["retry_after_date"]), usegmt=True)
            if "body_hex" in q:
                body = bytes.fromhex(q["body_hex"])
                self.send_response(int(q["status"]))
                self.send_header("Content-Length", str(len(body)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
            else:
                msg = q.get("msg", "failure on request")
                if "echo_auth" in q:
                    msg += " " + (self.headers.get("Authorization") or "(none)")
                self.send_error_json(int(q["status"]), msg, extra)
            return True
        if "redirect" in q:
            self.send_response(302)
            self.send_header("Location", q["redirect"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        if "huge" in q:
            self.stream(int(q["huge"]), "chunked" in q)
            return True
        if "endless" in q:
            self.endless()
            return True
        if "close_mid" in q:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"{" + b" " * 99)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if "malformed" in q:
            self.send_json(200, b'{"choices": [{"message": {"content": "cut')
            return True
        return False

    def stall_or_send(self, q, obj):
        if "stall" not in q:
            self.send_json(200, obj)
            return
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        half = len(body) // 2
        self.wfile.write(body[:half])
        self.wfile.flush()
        time.sleep(float(q["stall"]))
        self.wfile.write(body[half:])

    def route(self, method, path, q, body):
        if method == "GET" and path == "/blob":
            size, seed = int(q.get("size", "0")), int(q.get("seed", "0"))
            data = bytes((i * 31 + seed) % 251 for i in range(size))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if "gzip" in q:
                data = gzip.compress(data)
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if method == "GET" and path.startswith("/files/") and STATE["files"]:
            name = path[len("/files/"):]
            full = os.path.join(STATE["files"], name)
            if "/" in name or name.startswith(".") or not os.path.isfile(full):
                self.send_error_json(404, "no file %s" % name)
                return
            with open(full, "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if method == "GET" and path == "/v2/health/ready":
            self.send_json(200, {"ready": True})
            return
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[0] == "v2" and parts[1] == "models":
            name = parts[2]
            if name not in MODELS:
                self.send_json(404, {"error": "model '%s' not found" % name})
                return
            if method == "GET" and len(parts) == 3:
                self.stall_or_send(q, self.metadata(name, q.get("bad")))
                return
            if method == "POST" and len(parts) == 4 and parts[3] == "infer":
                self.infer(name, q, body)
                return
        if method == "POST":
            try:
                req = json.loads(body)
            except ValueError:
                self.send_error_json(400, "request body is not JSON")
                return
            if path.endswith("/chat/completions"):
                self.chat(q, req)
                return
            if path.endswith("/completions"):
                self.completions(q, req)
                return
            if path.endswith("/embeddings"):
                self.embeddings(q, req)
                return
        self.send_error_json(404, "no route for %s %s" % (method, path))

    # ---- KServe v2 ----

    def metadata(self, name, bad):
        m = MODELS[name]
        d = len(m["weights"][0])
        n_out = 1 if m["link"] == "identity" else 2
        meta = {"name": name, "versions": ["1"], "platform": "maas-test",
                "inputs": [{"name": "input-0", "datatype": "FP32", "shape": [-1, d]}],
                "outputs": [{"name": m["output"], "datatype": "FP32", "shape": [-1, n_out]}]}
        if bad == "shape":
            meta["inputs"][0]["shape"] = [-1, d + 1]
        elif bad == "datatype":
            meta["inputs"][0]["datatype"] = "BYTES"
        elif bad == "type":
            meta["inputs"] = {"name": "input-0"}
        return meta

    def infer(self, name, q, body):
        try:
            req = json.loads(body)
            inp = req["inputs"][0]
            n, d = inp["shape"]
            data = inp["data"]
            if inp["datatype"] != "FP32":
                raise ValueError("datatype must be FP32")
            if d != len(MODELS[name]["weights"][0]):
                raise ValueError("expected %d features, got %d" % (len(MODELS[name]["weights"][0]), d))
            if len(data) != n * d:
                raise ValueError("data has %d values, shape says %d" % (len(data), n * d))
        except (ValueError, KeyError, TypeError, IndexError) as e:
            self.send_json(400, {"error": "bad request: %s" % e})
            return
        rows = [data[i * d:(i + 1) * d] for i in range(n)]
        out = predict(name, rows)
        n_out = len(out[0]) if out else (1 if MODELS[name]["link"] == "identity" else 2)
        flat = [v for r in out for v in r]
        tensor = {"name": MODELS[name]["output"], "datatype": "FP32",
                  "shape": [n, n_out], "data": flat}
        bad = q.get("bad")
        if bad == "shape":
            tensor["shape"] = [n, n_out + 1]
        elif bad == "datatype":
            tensor["datatype"] = "BYTES"
        elif bad == "count":
            tensor["data"] = flat[:-1]
        elif bad == "type":
            tensor["data"] = [str(v) for v in flat]
        elif bad in ("nonfinite", "nan"):
            tensor["data"] = ["__X__"] + flat[1:]
            resp = json.dumps({"model_name": name, "outputs": [tensor]})
            resp = resp.replace('"__X__"', "1e999" if bad == "nonfinite" else "NaN")
            self.send_json(200, resp.encode())
            return
        elif bad == "missing":
            tensor = {"name": tensor["name"], "shape": tensor["shape"], "datatype": "FP32"}
        elif bad == "nooutputs":
            self.send_json(200, {"model_name": name, "outputs": []})
            return
        elif bad == "ragged":
            tensor["data"] = [flat[:1]] + flat[1:]
        self.stall_or_send(q, {"model_name": name, "model_version": "1",
                               "id": req.get("id", ""), "outputs": [tensor]})

    # ---- OpenAI ----

    @staticmethod
    def echo(prompt, max_tokens):
        text = "echo: " + prompt
        if max_tokens is not None and len(text) > max_tokens:
            return text[:max_tokens], "length"
        return text, "stop"

    def chat(self, q, req):
        msgs = req.get("messages")
        if not isinstance(msgs, list) or not msgs or not isinstance(req.get("model"), str):
            self.send_error_json(400, "model and messages are required")
            return
        text, finish = self.echo(msgs[-1].get("content", ""), req.get("max_tokens"))
        message = {"role": "assistant", "content": text}
        bad = q.get("bad")
        choices = [{"index": 0, "message": message, "finish_reason": finish}]
        if bad == "null":
            message["content"] = None
        elif bad == "type":
            message["content"] = 42
        elif bad == "nochoices":
            choices = []
        elif bad == "choices":
            choices = {"0": choices[0]}
        elif bad == "nomessage":
            del choices[0]["message"]
        self.stall_or_send(q, {
            "id": "chatcmpl-test", "object": "chat.completion", "created": 0,
            "model": req["model"], "choices": choices,
            "usage": {"prompt_tokens": len(msgs), "completion_tokens": len(text),
                      "total_tokens": len(msgs) + len(text)}})

    def completions(self, q, req):
        prompt = req.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
            self.send_error_json(400, "prompt must be a string or a list of strings")
            return
        choices = []
        for i, p in enumerate(prompts):
            text, finish = self.echo(p, req.get("max_tokens"))
            choices.append({"index": i, "text": text, "finish_reason": finish})
        bad = q.get("bad")
        if bad == "order":
            choices.reverse()       # still valid: each choice has its index
        elif bad == "count":
            choices = choices[:-1]
        elif bad == "index":
            choices[-1]["index"] = 0
        elif bad == "type":
            choices[0]["text"] = ["not", "text"]
        self.stall_or_send(q, {"id": "cmpl-test", "object": "text_completion",
                               "model": req.get("model"), "choices": choices})

    def embeddings(self, q, req):
        inp = req.get("input")
        inputs = [inp] if isinstance(inp, str) else inp
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            self.send_error_json(400, "input must be a string or a list of strings")
            return
        dims = req.get("dimensions", 8)
        data = [{"object": "embedding", "index": i, "embedding": embedding(t, dims)}
                for i, t in enumerate(inputs)]
        bad = q.get("bad")
        if bad == "order":
            data.reverse()          # valid
        elif bad == "count":
            data = data[:-1]
        elif bad == "index":
            data[-1]["index"] = 0
        elif bad == "dims":
            data[-1]["embedding"] = data[-1]["embedding"][:-1]
        elif bad == "type":
            data[0]["embedding"][0] = "0.5"
        elif bad == "nonfinite":
            data[0]["embedding"][0] = "__X__"
            resp = json.dumps({"object": "list", "data": data, "model": req.get("model")})
            self.send_json(200, resp.replace('"__X__"', "1e999").encode())
            return
        elif bad == "nodata":
            self.send_json(200, {"object": "list", "model": req.get("model")})
            return
        self.stall_or_send(q, {"object": "list", "data": data, "model": req.get("model"),
                               "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            return          # clients that hang up are part of the tests
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log")
    ap.add_argument("--tls")
    ap.add_argument("--files")
    args = ap.parse_args()
    STATE["files"] = args.files
    if args.log:
        STATE["log"] = open(args.log, "a", encoding="utf-8")
    srv = Server(("127.0.0.1", args.port), Handler)
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(args.tls, "cert.pem"), os.path.join(args.tls, "key.pem"))
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
