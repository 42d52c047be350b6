# docs/guide/py/cmd_exchange.py
"""One cmd_server exchange, showing what each recv returns."""
import socket

conn = socket.create_connection(("127.0.0.1", 8002))
conn.sendall(b"date\n")
length = conn.recv(1024)
print("recv ->", length)              # the length alone: nothing else is sent yet
conn.sendall(b"ok")                   # the acknowledgement releases the output
output = b""
while len(output) < int(length):
    output += conn.recv(1024)
print("recv ->", output)
