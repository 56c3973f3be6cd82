#!/usr/bin/env python3
"""Slow-connection flood for bench/flood-memory.sh.

    flood.py HOST PORT CONNECTIONS HOLD_SECONDS

Opens CONNECTIONS connections at once; every second one sends half a
request head (a request line and one header, never the blank line), the
others send nothing. All are held for HOLD_SECONDS, then closed. Prints how
many connected, and how many the server closed before the hold ended.
"""
import asyncio
import sys


async def one(host, port, index, hold, stats):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        stats["refused"] += 1
        return
    stats["connected"] += 1
    if index % 2 == 0:
        writer.write(b"GET /users/1 HTTP/1.1\r\nHost: flood\r\n")
        await writer.drain()
    try:
        data = await asyncio.wait_for(reader.read(4096), timeout=hold)
        # The server answered (408) or closed before the hold ended.
        stats["closed_by_server"] += 1
        del data
    except asyncio.TimeoutError:
        pass
    except OSError:
        stats["closed_by_server"] += 1
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


async def main():
    host, port, connections, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    stats = {"connected": 0, "refused": 0, "closed_by_server": 0}
    await asyncio.gather(*(one(host, port, i, hold, stats) for i in range(connections)))
    print(f"connected {stats['connected']} refused {stats['refused']} closed_by_server {stats['closed_by_server']}")


asyncio.run(main())
