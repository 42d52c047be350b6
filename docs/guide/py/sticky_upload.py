# docs/guide/py/sticky_upload.py
"""Uploads to upload_server as the tutorial's client does: NAME|SIZE with
no newline, the file's bytes in a send of their own, the answer read with
one recv(1024). Prints the bytes the server receives and the answer."""
import socket
import sys
import time

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8003


def upload(header, data):
    conn = socket.create_connection(("127.0.0.1", port))
    conn.sendall(header)
    conn.sendall(data)
    sent = time.monotonic()
    answer = conn.recv(1024)
    waited = time.monotonic() - sent
    print(f"{header + data!r:24} -> {answer!r} after {waited:.2f} s")
    conn.close()


upload(b"hello.txt|5", b"hello")
upload(b"digits.txt|5", b"12345")
upload(b"newline.txt|6", b"\nhello")
upload(b"digits.txt|5\n", b"12345")  # the newline form
