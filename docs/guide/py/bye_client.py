# docs/guide/py/bye_client.py
"""Sends one short message and its EOF together, then waits for the server to close."""
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8893
conn = socket.create_connection(("127.0.0.1", port))
conn.sendall(b"bye\n")
conn.shutdown(socket.SHUT_WR)           # our FIN right behind the data
conn.settimeout(3)
echoed = b""
try:
    while chunk := conn.recv(4096):
        echoed += chunk
    print(f"echoed {echoed!r}, then the server closed")
except TimeoutError:
    print(f"echoed {echoed!r}, and after 3 s the server has still not closed")
