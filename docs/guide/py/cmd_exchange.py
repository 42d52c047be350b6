# docs/guide/py/cmd_exchange.py
"""One exchange with cmd_server, showing what each recv returns.

    python3 cmd_exchange.py [PORT]            # the length read until a pause
    python3 cmd_exchange.py [PORT] one-recv   # the length read with one recv(1024)
"""
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8002
one_recv = sys.argv[2:] == ["one-recv"]
conn = socket.create_connection(("127.0.0.1", port))
conn.sendall(b"date\n")
length = conn.recv(1024)                # waits for the first bytes of the length
print("recv ->", length)
if not one_recv:
    # The length has no end marker: the server sends nothing more until our
    # acknowledgement, so the length is whole once 0.1 s pass with nothing new.
    conn.settimeout(0.1)
    try:
        while more := conn.recv(1024):
            length += more
            print("recv ->", more)
    except TimeoutError:
        pass
    conn.settimeout(None)
conn.sendall(b"ok")                     # the acknowledgement releases the output
output = b""
while len(output) < int(length):
    output += conn.recv(1024)
print("recv ->", output)
