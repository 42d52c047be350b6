# docs/guide/py/et_client.py
"""Client for et_echo.py: sends, waits, shows what has come back so far."""
import socket
import sys
import time

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8893
conn = socket.create_connection(("127.0.0.1", port))
conn.setblocking(False)
echoed = b""

def sent(data):
    global echoed
    conn.sendall(data)
    time.sleep(0.5)
    try:
        while chunk := conn.recv(4096):
            echoed += chunk
    except BlockingIOError:
        pass
    print(f"sent {data!r:34} echoed so far: {echoed!r}")

sent(b"hello, edge-triggered world\n")
sent(b"!")
sent(b"?")
