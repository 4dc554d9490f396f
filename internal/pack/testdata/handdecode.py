# Independent decoder for a pack payload, written from doc.go alone (no Go).
# Usage: age -d -i x25519.key v1-x25519.age > payload; python3 handdecode.py payload
# Needs the zstd CLI for compressed blobs; checks every ID with the vector key.
import sys, struct, hmac, hashlib, subprocess
p = open(sys.argv[1], 'rb').read()
assert p[:8] == b'ICEVPACK' and p[8] == 1
n, = struct.unpack('<Q', p[-16:-8]); assert p[-8:] == b'ICEVPEND'
idx = p[len(p)-16-n:len(p)-16]
def uv(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i
assert idx[0] == ord('X')
cnt, i = uv(idx, 1)
key = bytes(range(32))
for _ in range(cnt):
    bid = idx[i:i+32]; kind, comp = idx[i+32], idx[i+33]; i += 34
    raw, i = uv(idx, i); st, i = uv(idx, i); off, i = uv(idx, i)
    data = p[off:off+st]
    if comp == 1:
        data = subprocess.run(['zstd', '-dc'], input=data, capture_output=True, check=True).stdout
    assert len(data) == raw
    assert hmac.new(key, data, hashlib.sha256).digest() == bid
    print(bid.hex()[:16], kind, comp, off, st, raw, hashlib.sha256(data).hexdigest()[:16])
assert i == len(idx)
