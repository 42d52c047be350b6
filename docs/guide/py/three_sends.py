# docs/guide/py/three_sends.py
"""Three send() calls, three "messages"; then one big one."""
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8894
conn = socket.create_connection(("127.0.0.1", port))
conn.send(b"5")
conn.send(b"hello")
conn.send(b"ok")
conn.sendall(b"x" * 3000)
conn.close()
