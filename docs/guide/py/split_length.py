# docs/guide/py/split_length.py
"""Speaks cmd_server's exchange (a command, its output's length, an
acknowledgement, the output) for one client, but sends the length's digits
in two pieces 50 ms apart, as a network is free to deliver them."""
import socket
import subprocess
import sys
import time

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8898
server = socket.create_server(("127.0.0.1", port))
print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
conn, addr = server.accept()
command = conn.recv(1024).split()
output = subprocess.run(command, capture_output=True).stdout
length = str(len(output)).encode()
conn.sendall(length[:1])
time.sleep(0.05)
conn.sendall(length[1:])
conn.recv(1024)                         # the acknowledgement
conn.sendall(output)
conn.close()
