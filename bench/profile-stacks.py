#!/usr/bin/env python3
"""What a CPU profile's stacks show: profile-stacks.py PROFILE.pb.gz

Reads the pprof format (gzip'd profile.proto) with a small decoder of its
own and prints one JSON object: samples, distinct functions, locations, the
share of locations with a file and line, the locations with inlined frames
(more than one line), the mean stack depth in lines, and the profile's comments (how much of
the process's CPU time the samples cover).
"""
import gzip
import json
import sys


def varint(data, i):
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def fields(data):
    i = 0
    while i < len(data):
        key, i = varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(data, i)
        elif wire == 2:
            length, i = varint(data, i)
            value = data[i:i + length]
            i += length
        elif wire == 1:
            value = data[i:i + 8]
            i += 8
        else:
            raise ValueError(f"wire type {wire}")
        yield number, value


def packed(value):
    if isinstance(value, int):
        return [value]
    out, i = [], 0
    while i < len(value):
        v, i = varint(value, i)
        out.append(v)
    return out


profile = gzip.decompress(open(sys.argv[1], "rb").read())
strings, functions, locations, samples, comments = [], {}, {}, [], []
for number, value in fields(profile):
    if number == 6:
        strings.append(value.decode())
    elif number == 5:
        f = dict(fields(value))
        functions[f.get(1, 0)] = (f.get(2, 0), f.get(4, 0))
    elif number == 4:
        location_id, lines = 0, []
        for n, v in fields(value):
            if n == 1:
                location_id = v
            elif n == 4:
                line = dict(fields(v))
                lines.append((line.get(1, 0), line.get(2, 0)))
        locations[location_id] = lines
    elif number == 13:
        comments.append(value)
    elif number == 2:
        ids, values = [], []
        for n, v in fields(value):
            if n == 1:
                ids += packed(v)
            elif n == 2:
                values += packed(v)
        samples.append((ids, values[0]))

with_line = sum(1 for lines in locations.values() if any(l > 0 for _, l in lines))
inlined = sum(1 for lines in locations.values() if len(lines) > 1)
total = sum(count for _, count in samples)
depth = sum(count * sum(len(locations[i]) for i in ids) for ids, count in samples) / max(total, 1)
print(json.dumps({
    "samples": total,
    "functions": len(functions),
    "locations": len(locations),
    "locations_with_file_and_line": round(with_line / max(len(locations), 1), 3),
    "locations_with_inlined_frames": inlined,
    "mean_stack_depth": round(depth, 1),
    "comments": [strings[i] for i in comments],
}))
