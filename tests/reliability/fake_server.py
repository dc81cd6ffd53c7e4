"""A misbehaving OpenAI-compatible server for the fault-injection tests (run as a subprocess).

    python fake_server.py --mode MODE --log FILE [--max-requests N] [--lifetime S] ...

It binds 127.0.0.1 on a free port, prints the port on stdout, logs every request (path, headers,
JSON body) as one JSON line to ``--log``, and exits after ``--max-requests`` requests or
``--lifetime`` seconds, whichever comes first (a test can never leave it running for long).

Modes: ``ok`` (valid answers), ``hang`` (never answers), ``trickle`` (a 200 whose body arrives one
byte per ``--interval`` s), ``status`` (``--status`` code for the first ``--fail`` requests, then
ok; ``--retry-after`` adds that header), ``lie`` (200 with a malformed ``usage``), ``redirect``
(307 to ``--location``), ``garbage`` (200 with a non-JSON body).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def answer(path: str, body: dict, reply: str) -> dict:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    if path.endswith("/chat/completions"):
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                             "finish_reason": "stop"}], "usage": usage}
    if path.endswith("/embeddings"):
        inputs = body.get("input") or []
        inputs = [inputs] if isinstance(inputs, str) else inputs
        data = [{"index": i, "embedding": [float(len(t) % 7), 1.0, 0.5]} for i, t in enumerate(inputs)]
        return {"data": data, "usage": usage}
    prompt = str(body.get("prompt", ""))
    if body.get("echo"):  # log-probs of every prompt word (scoring), then one generated token
        offsets, tokens, pos = [], [], 0
        for word in prompt.split(" "):
            tokens.append(word if pos == 0 else " " + word)
            offsets.append(pos)
            pos += len(tokens[-1])
        tokens.append(" x")
        offsets.append(len(prompt))
        lps = [None] + [-float(len(t)) / 4 for t in tokens[1:]]
        lp = {"tokens": tokens, "text_offset": offsets, "token_logprobs": lps}
        return {"choices": [{"index": 0, "text": prompt + " x", "logprobs": lp, "finish_reason": "length"}],
                "usage": usage}
    return {"choices": [{"index": 0, "text": reply, "finish_reason": "stop"}], "usage": usage}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--log", required=True)
    ap.add_argument("--max-requests", type=int, default=50)
    ap.add_argument("--lifetime", type=float, default=60.0)
    ap.add_argument("--reply", default="[1] > [2]")
    ap.add_argument("--status", type=int, default=500)
    ap.add_argument("--fail", type=int, default=10**9)
    ap.add_argument("--retry-after", default=None)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--location", default="http://127.0.0.1:9/v1/chat/completions")
    ap.add_argument("--lie", default="string-usage")
    args = ap.parse_args()
    count = {"n": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: object) -> None:  # quiet
            pass

        def _send(self, code: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()

        def do_GET(self) -> None:
            self._handle({})

        def do_POST(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"_raw": raw.decode(errors="replace")}
            self._handle(body)

        def _handle(self, body: dict) -> None:
            with lock:
                count["n"] += 1
                index = count["n"]
                with open(args.log, "a") as f:
                    f.write(json.dumps({"i": index, "t": time.time(), "path": self.path,
                                        "headers": dict(self.headers.items()), "body": body}) + "\n")
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._respond(index, body)
            if index >= args.max_requests:
                threading.Thread(target=server.shutdown, daemon=True).start()

        def _respond(self, index: int, body: dict) -> None:
            mode = args.mode
            ok = json.dumps(answer(self.path, body, args.reply)).encode()
            if mode == "hang":
                time.sleep(args.lifetime)
            elif mode == "trickle":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(ok)))
                self.end_headers()
                for i in range(len(ok)):
                    self.wfile.write(ok[i:i + 1])
                    self.wfile.flush()
                    time.sleep(args.interval)
            elif mode == "status" and index <= args.fail:
                headers = {"Retry-After": args.retry_after} if args.retry_after else {}
                self._send(args.status, json.dumps({"error": {"message": "busy"}}).encode(), headers)
            elif mode == "redirect":
                self._send(307, b"{}", {"Location": args.location})
            elif mode == "garbage":
                self._send(200, b"<html>not json</html>")
            elif mode == "lie" and args.lie.endswith("-logprobs"):  # lying echo log-probs (scoring)
                data = answer(self.path, body, args.reply)
                lp = data["choices"][0]["logprobs"]
                n = len(lp["tokens"])
                if args.lie == "nan-logprobs":
                    lp["token_logprobs"] = [None] + [float("nan")] * (n - 1)  # json writes a bare NaN
                elif args.lie == "positive-logprobs":
                    lp["token_logprobs"] = [None] + [50.0] * (n - 1)
                elif args.lie == "string-logprobs":
                    lp["token_logprobs"] = [None] + ["abc"] * (n - 1)
                elif args.lie == "list-logprobs":
                    data["choices"][0]["logprobs"] = [1, 2, 3]
                elif args.lie == "string-offsets-logprobs":
                    lp["text_offset"] = "0,1,2"
                self._send(200, json.dumps(data).encode())
            elif mode == "lie":
                data = answer(self.path, body, args.reply)
                data["usage"] = {"string-usage": {"prompt_tokens": "many", "completion_tokens": "few"},
                                 "list-usage": [1, 2],
                                 "negative-usage": {"prompt_tokens": -5, "completion_tokens": 1}}[args.lie]
                self._send(200, json.dumps(data).encode())
            else:
                self._send(200, ok)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    timer = threading.Timer(args.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
