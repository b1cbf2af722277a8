"""aecc_py.py - file formats shared by aecc's Python tools (parity checks,
benchmarks): safetensors read and write, IDX read and write, and loading a
generated NAME_torch.py module. Needs only numpy (and torch for the module).
"""
import gzip
import importlib.util
import json
import struct

import numpy as np

ST_DTYPES = {"F32": np.float32, "F64": np.float64, "U8": np.uint8, "I64": np.int64}


def read_safetensors(path):
    """Return {name: numpy array} from a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (hlen,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + hlen])
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        arr = np.frombuffer(blob[base + begin:base + end], dtype=ST_DTYPES[info["dtype"]])
        out[name] = arr.reshape(info["shape"]).copy()
    return out


def write_safetensors(path, tensors):
    """Write {name: numpy array} as a safetensors file (insertion order)."""
    names = {np.dtype(v): k for k, v in ST_DTYPES.items()}
    header, chunks, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.asarray(arr, order="C")  # keeps a scalar's shape [] (ascontiguousarray makes it [1])
        data = arr.tobytes()
        header[name] = {"dtype": names[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def read_idx(path):
    """Return the array in an IDX file (gzipped or raw)."""
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        blob = f.read()
    zero, kind, rank = struct.unpack(">HBB", blob[:4])
    dims = struct.unpack(">" + "I" * rank, blob[4:4 + 4 * rank])
    dtype = {0x08: np.uint8, 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}[kind]
    return np.frombuffer(blob[4 + 4 * rank:], dtype=dtype).reshape(dims)


def write_idx(path, arr):
    """Write a uint8 array as a raw IDX file."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x08, arr.ndim))
        f.write(struct.pack(">" + "I" * arr.ndim, *arr.shape))
        f.write(arr.tobytes())


def load_module(path):
    """Import a generated NAME_torch.py by path."""
    spec = importlib.util.spec_from_file_location("aecc_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
