"""A raw HTTPS client driven over stdin/stdout, run inside a container by test_security.py.

Standard library only (some client containers have python3 but no curl). The test sends one
JSON command per line and reads one JSON result per line, so a single process can hold a
connection open across events (open a keep-alive connection, get banned, then use it).
Requests are sent byte for byte as given (HTTP/1.0 without Host, odd headers, pipelining),
and every socket operation has a timeout.

Commands (all take "timeout", seconds):
  {"op": "open", "id": "ka"}                       connect + TLS handshake, keep it as "ka"
  {"op": "send", "id": "ka", "raw": "GET / ..."}   send on "ka", read one response
  {"op": "close", "id": "ka"}
  {"op": "oneshot", "raw": "..."}                  new connection, one request, close
  {"op": "pipeline", "connections": 8, "raw": [...]}  each connection sends all raw requests
                                                   at once and reads until EOF; status counts
  {"op": "paced", "raw": "...", "count": 50, "interval": 0.05}  one keep-alive connection,
                                                   one request every interval; status counts
Results: {"status": 401, "headers": {...}, "server_closed": false} or {"error": "refused" |
"reset" | "timeout" | "closed" | "tls: ..."}.
"""
import json
import re
import socket
import ssl
import sys
import threading
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE  # the test is about what the server answers, not its certificate
STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})")


def connect(timeout):
    sock = socket.create_connection((HOST, PORT), timeout=timeout)
    try:
        return CTX.wrap_socket(sock, server_hostname=HOST)
    except BaseException:
        sock.close()
        raise


def error_name(exc):
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return "reset"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ssl.SSLEOFError):
        return "closed"
    if isinstance(exc, ssl.SSLError):
        return f"tls: {exc}"
    if isinstance(exc, EOFError):
        return "closed"
    return f"{type(exc).__name__}: {exc}"


class Reader:
    """Reads HTTP/1.x responses from a socket, one at a time."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _more(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def _take(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status = lines[0].split(" ")[:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                size = int(self._line().split(b";")[0], 16)
                self._take(size + 2)
                if size == 0:
                    break
        elif "content-length" in headers:
            self._take(int(headers["content-length"]))
        else:  # body until the server closes
            try:
                while True:
                    self._more()
            except EOFError:
                pass
            self.buf = b""
        connection = headers.get("connection", "").lower()
        closes = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        return {"status": int(status), "headers": headers, "server_closed": closes}


def pipeline(raw_list, timeout, counts, lock):
    try:
        with connect(timeout) as sock:
            sock.sendall("".join(raw_list).encode("latin-1"))
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except Exception as exc:  # noqa: BLE001 - reported as a count
        with lock:
            counts[error_name(exc)] = counts.get(error_name(exc), 0) + 1
        return
    with lock:
        for status in STATUS.findall(data):
            counts[status.decode()] = counts.get(status.decode(), 0) + 1


def main():
    conns = {}
    for line in sys.stdin:
        cmd = json.loads(line)
        timeout = cmd.get("timeout", 5)
        result = {}
        try:
            op = cmd["op"]
            if op == "open":
                conns[cmd["id"]] = Reader(connect(timeout))
                result = {"ok": True}
            elif op == "send":
                reader = conns[cmd["id"]]
                reader.sock.settimeout(timeout)
                reader.sock.sendall(cmd["raw"].encode("latin-1"))
                result = reader.response()
            elif op == "close":
                reader = conns.pop(cmd["id"], None)
                if reader:
                    reader.sock.close()
                result = {"ok": True}
            elif op == "oneshot":
                with connect(timeout) as sock:
                    sock.sendall(cmd["raw"].encode("latin-1"))
                    result = Reader(sock).response()
            elif op == "pipeline":
                counts, lock = {}, threading.Lock()
                threads = [threading.Thread(target=pipeline, args=(cmd["raw"], timeout, counts, lock))
                           for _ in range(cmd["connections"])]
                start = time.monotonic()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                result = {"counts": counts, "seconds": round(time.monotonic() - start, 3)}
            elif op == "paced":
                counts, start = {}, time.monotonic()
                reader = Reader(connect(timeout))
                try:
                    for _ in range(cmd["count"]):
                        reader.sock.sendall(cmd["raw"].encode("latin-1"))
                        status = str(reader.response()["status"])
                        counts[status] = counts.get(status, 0) + 1
                        time.sleep(cmd["interval"])
                finally:
                    reader.sock.close()
                result = {"counts": counts, "seconds": round(time.monotonic() - start, 3)}
            else:
                result = {"error": f"unknown op {op}"}
        except Exception as exc:  # noqa: BLE001 - every failure is a result the test asserts on
            result = {"error": error_name(exc)}
            if cmd.get("id") in conns and cmd.get("op") == "send":
                conns.pop(cmd["id"]).sock.close()
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
