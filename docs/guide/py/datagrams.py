# docs/guide/py/datagrams.py
"""Three sendto() calls to a UDP server, the way three_sends.py sent three
send() calls over TCP; then a datagram bigger than the buffer read into;
then one to a port where nobody listens."""
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 9999
server = ("127.0.0.1", port)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(2)
for message in (b"5", b"hello", b"ok"):
    sock.sendto(message, server)
for _ in range(3):
    data, sender = sock.recvfrom(1024)
    print(f"recvfrom(1024) -> {data!r} from port {sender[1]}")

# A datagram is taken whole or not at all: what does not fit is lost.
echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
echo.bind(("127.0.0.1", 0))
sock.sendto(b"x" * 3000, echo.getsockname())
data = echo.recv(1024)
print(f"a 3000-byte datagram, recv(1024) -> {len(data)} bytes; the rest is gone")

# No connection: the refusal comes back later, on the next receive.
nobody = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
nobody.bind(("127.0.0.1", 0))
unused = nobody.getsockname()
nobody.close()
sock.connect(unused)
print(f"send to port {unused[1]} returned {sock.send(b'anyone?')}")
try:
    sock.recv(1024)
except ConnectionRefusedError as e:
    print(f"then recv: {e}")
