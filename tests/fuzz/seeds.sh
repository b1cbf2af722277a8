#!/bin/sh
# seeds.sh AECC DIR - the seed inputs of the fuzz targets that are not
# files of the tree (the .ae target starts from examples/, tests/diag/,
# tests/gradcheck/ and tests/parity/ as they are): small valid IDX, NPY and
# CSV files, and safetensors weights and checkpoints of tests/fuzz/tiny.ae
# saved by its trainer. Writes DIR/idx, DIR/npy, DIR/csv, DIR/safetensors.
set -eu
AECC=$1
out=$2
PY=${PYTHON:-/usr/bin/python3}
rm -rf "$out"
mkdir -p "$out/idx" "$out/npy" "$out/csv" "$out/safetensors" "$out/tiny"

"$PY" - "$out" <<'PYEOF'
import gzip, json, struct, sys
out = sys.argv[1]

def write(path, data):
    with open(out + "/" + path, "wb") as f:
        f.write(data)

# IDX: fuzz_idx reads a mode byte first (0: the file as it is, 1: gzip it).
def idx(code, dims, payload):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload
images = idx(0x08, [3, 4, 4], bytes(range(48)))
labels = idx(0x08, [5], bytes([0, 3, 9, 1, 2]))
f32 = idx(0x0D, [2, 3], struct.pack(">6f", 0.5, -1.25, 3, 0, 1e-3, 7))
f64 = idx(0x0E, [2, 2], struct.pack(">4d", 0.25, -2, 1e300, 0))
rank5 = idx(0x08, [1, 1, 2, 1, 2], bytes(4))
for name, data in [("images", images), ("labels", labels), ("f32", f32), ("f64", f64), ("rank5", rank5)]:
    write("idx/raw_" + name, b"\0" + data)
    write("idx/gz_" + name, b"\1" + data)
    write("idx/file_gz_" + name, b"\0" + gzip.compress(data, mtime=0))
write("idx/truncated", b"\0" + images[:-5])

# NPY, versions 1 to 3.
def npy(major, header, payload):
    head = header.encode("latin1")
    pre = 10 if major == 1 else 12
    head += b" " * ((-(pre + len(head) + 1)) % 64) + b"\n"
    size = struct.pack("<H", len(head)) if major == 1 else struct.pack("<I", len(head))
    return b"\x93NUMPY" + bytes([major, 0]) + size + head + payload
write("npy/f4", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", struct.pack("<6f", 0, 1, 0.5, 2, -3, 1e-5)))
write("npy/f8", npy(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1, 2), }", struct.pack("<4d", 1, 2, 3, 4)))
write("npy/u1", npy(3, "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", bytes([0, 1, 2, 255])))
write("npy/u1_image", npy(1, "{\"descr\": \"<u1\", \"fortran_order\": False, \"shape\": (2, 2, 2)}", bytes(8)))
write("npy/empty", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", b""))

# CSV.
write("csv/header", b"a,b,c\n1,2,3\n4.5,-6e-2,7\n")
write("csv/bom_crlf", b"\xef\xbb\xbf0.25, 1\r\n\r\n 3 ,4\r\n")
write("csv/one_column", b"1\n2\n3\n")
write("csv/labels", b"label\n0\n9\n3\n")

# safetensors: tensors of every dtype aert_st_load converts.
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, payload) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data
write("safetensors/dtypes", safetensors({
    "a": ("U8", [4], bytes([1, 2, 3, 4])),
    "b": ("F64", [2, 3], struct.pack("<6d", *range(6))),
    "c": ("I64", [], struct.pack("<q", 7)),
    "d": ("F32", [5], struct.pack("<5f", *range(5))),
    "e": ("BF16", [2], bytes(4)),
}, {"format": "pt"}))
# The same names in the other real type (converted on load), and a dtype
# that does not fit.
write("safetensors/convert", safetensors({
    "a": ("U8", [4], bytes(4)),
    "b": ("F32", [2, 3], struct.pack("<6f", *range(6))),
    "d": ("F64", [5], struct.pack("<5d", *range(5))),
}))
write("safetensors/mismatch", safetensors({"d": ("U8", [5], bytes(5)), "a": ("F32", [4], bytes(16))}))
write("safetensors/empty", safetensors({}))
PYEOF

# The tiny model's own weights (as --save writes them, and in F64) and
# checkpoint (with Adam's state, as --checkpoint writes it).
"$AECC" build tests/fuzz/tiny.ae -o "$out/tiny" >/dev/null
"$PY" - "$out/tiny/train.npy" <<'PYEOF'
import struct, sys
head = "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 6), }"
head += " " * ((-(10 + len(head) + 1)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode())
    f.write(struct.pack("<48f", *[(7 * i % 11) / 10 for i in range(48)]))
PYEOF
"$out/tiny/tiny-train" --train "$out/tiny/train.npy" --steps 2 --quiet \
	--save "$out/safetensors/weights" --checkpoint "$out/safetensors/checkpoint" >/dev/null
"$AECC" build --dtype f64 tests/fuzz/tiny.ae -o "$out/tiny64" >/dev/null
"$out/tiny64/tiny-train" --train "$out/tiny/train.npy" --steps 1 --quiet \
	--checkpoint "$out/safetensors/checkpoint_f64" >/dev/null
