# docs/guide/py/maps_summary.py
"""Adds up a process's address space (/proc/PID/maps) by the size and
permissions of its mappings, largest total first."""
import collections
import sys

count, total = collections.Counter(), collections.Counter()
for line in open(f"/proc/{sys.argv[1]}/maps"):
    fields = line.split()
    start, end = (int(x, 16) for x in fields[0].split("-"))
    size = end - start
    # Mappings of a MiB or more by whole MiB, smaller ones by KiB.
    shown = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
    key = (shown, fields[1])
    count[key] += 1
    total[key] += size
for (shown, perms), size in total.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 6):
    print(f"{count[shown, perms]:6} x {shown:>7} {perms}  {size / 1e6:9,.0f} MB")
print(f"{sum(count.values()):6} mappings           {sum(total.values()) / 1e6:9,.0f} MB")
