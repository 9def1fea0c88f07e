#!/usr/bin/env python3
"""Copies a wheel with its native libraries stripped of their symbol tables.

maturin builds the wheel from the library it generated the uniffi bindings from, and library
mode reads uniffi's metadata from the symbol table, so the library must keep it until then;
this strips it afterwards (`strip --strip-all`) and rewrites the wheel's RECORD with the new
hashes and sizes. Usage: wheel-strip.py IN.whl OUT.whl
"""

import base64
import csv
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def strip(data: bytes) -> bytes:
    with tempfile.NamedTemporaryFile(suffix=".so") as f:
        f.write(data)
        f.flush()
        subprocess.run(["strip", "--strip-all", f.name], check=True)
        f.seek(0)
        return f.read()


def main(src: str, dst: str) -> None:
    with zipfile.ZipFile(src) as zin:
        infos = zin.infolist()
        contents = {i.filename: zin.read(i) for i in infos}
    records = [n for n in contents if n.endswith(".dist-info/RECORD")]
    if len(records) != 1:
        sys.exit(f"{src}: expected one RECORD, found {len(records)}")
    record_name = records[0]
    for name in contents:
        if name.endswith(".so"):
            contents[name] = strip(contents[name])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in csv.reader(io.StringIO(contents[record_name].decode())):
        if not row:
            continue
        name = row[0]
        if name == record_name:
            writer.writerow([name, "", ""])
        elif name in contents:
            writer.writerow([name, record_hash(contents[name]), str(len(contents[name]))])
        else:
            sys.exit(f"{src}: RECORD names {name}, which the wheel lacks")
    contents[record_name] = out.getvalue().encode()
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in infos:
            zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            zi.external_attr = info.external_attr
            zi.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(zi, contents[info.filename])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: wheel-strip.py IN.whl OUT.whl")
    main(sys.argv[1], sys.argv[2])
