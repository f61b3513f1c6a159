#!/usr/bin/env python3
"""Regenerates the image-decoding fixtures in cogvlm4j-core/src/test/resources/images.

Each <name>.<ext> is an encoded image; <name>.rgb holds what the reference's preprocessing starts from,
np.asarray(Image.open(f).convert('RGB')) as raw bytes, and <name>.txt its width and height. Run with Debian's
python3-pil 9.4.0 (the Pillow the reference fixtures were made with) and the webp tools:
    apt-get install python3-pil python3-numpy webp && /usr/bin/python3 tools/make_image_fixtures.py
"""
import io, os, struct, subprocess, sys, zlib
import numpy as np
from PIL import Image

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "cogvlm4j-core/src/test/resources/images")
src = Image.open(os.path.join(root, "examples/chelsea.png")).convert("RGB").crop((150, 60, 246, 124))  # 96x64
os.makedirs(out, exist_ok=True)


def png_raw(name, arr, color_type, bit_depth):
    """Writes a PNG by hand, for layouts Pillow cannot save (16-bit RGB, 1/2/4-bit grey)."""
    h, w = arr.shape[:2]
    rows = []
    for y in range(h):
        if bit_depth < 8:
            bits = "".join(format(int(v), "0%db" % bit_depth) for v in arr[y])
            bits += "0" * (-len(bits) % 8)
            row = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))
        elif bit_depth == 16:
            row = arr[y].astype(">u2").tobytes()
        else:
            row = arr[y].astype("u1").tobytes()
        rows.append(b"\x00" + row)

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
    with open(os.path.join(out, name + ".png"), "wb") as f:
        f.write(data)
    return name + ".png"


def save(name, ext, **kw):
    path = os.path.join(out, name + "." + ext)
    img = kw.pop("img", src)
    img.save(path, **kw)
    return name + "." + ext


files = []
files.append(save("jpeg_420", "jpg", quality=90, subsampling=2))
files.append(save("jpeg_444", "jpg", quality=90, subsampling=0))
files.append(save("jpeg_422", "jpg", quality=85, subsampling=1))
files.append(save("jpeg_progressive_420", "jpg", quality=90, subsampling=2, progressive=True))
files.append(save("jpeg_gray", "jpg", img=src.convert("L"), quality=90))
files.append(save("png_rgb", "png"))
files.append(save("png_rgba", "png", img=Image.merge("RGBA", (*src.split(), src.convert("L")))))
files.append(save("png_la", "png", img=Image.merge("LA", (src.convert("L"), src.convert("L").point(lambda v: 255 - v)))))
files.append(save("png_palette", "png", img=src.convert("P", palette=Image.ADAPTIVE, colors=64)))
pal = src.convert("P", palette=Image.ADAPTIVE, colors=16)
files.append(save("png_palette_transparent", "png", img=pal, transparency=3))
g = np.asarray(src.convert("L"))
files.append(png_raw("png_gray1", (g > 128).astype(np.uint8), 0, 1))
files.append(png_raw("png_gray2", g >> 6, 0, 2))
files.append(png_raw("png_gray4", g >> 4, 0, 4))
files.append(png_raw("png_gray16", g.astype(np.uint16) * 3, 0, 16))  # Pillow opens it as mode I and clips to 255
rgb = np.asarray(src).astype(np.uint16)
files.append(png_raw("png_rgb16", rgb * 257 + 3, 2, 16))
files.append(png_raw("png_rgba16", np.dstack([rgb * 257, (rgb[..., :1] * 100)]), 6, 16))
files.append(png_raw("png_la16", np.dstack([g.astype(np.uint16) * 257, g.astype(np.uint16) * 7]), 4, 16))
frames = [src.convert("P", palette=Image.ADAPTIVE, colors=32), src.transpose(Image.FLIP_LEFT_RIGHT).convert("P", palette=Image.ADAPTIVE, colors=32)]
frames[0].save(os.path.join(out, "gif_animated.gif"), save_all=True, append_images=frames[1:], duration=100, loop=0)
files.append("gif_animated.gif")
files.append(save("bmp_rgb", "bmp"))
files.append(save("bmp_palette", "bmp", img=src.convert("P", palette=Image.ADAPTIVE, colors=256)))
src.save("/tmp/_src.png")
subprocess.run(["cwebp", "-quiet", "-lossless", "/tmp/_src.png", "-o", os.path.join(out, "webp_lossless.webp")], check=True)
files.append("webp_lossless.webp")
subprocess.run(["cwebp", "-quiet", "-q", "90", "/tmp/_src.png", "-o", os.path.join(out, "webp_lossy.webp")], check=True)
files.append("webp_lossy.webp")

for f in files:
    name = f.rsplit(".", 1)[0]
    im = Image.open(os.path.join(out, f))
    mode = im.mode
    rgb = im.convert("RGB")
    with open(os.path.join(out, name + ".rgb"), "wb") as fh:
        fh.write(np.asarray(rgb).tobytes())
    with open(os.path.join(out, name + ".txt"), "w") as fh:
        fh.write("%d %d %s\n" % (rgb.size[0], rgb.size[1], mode))
    print(f, mode, rgb.size)


def bomb():
    """A PNG header claiming 100000x100000 pixels over 64 bytes of data: a decompression bomb."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    with open(os.path.join(out, "bomb_100000x100000.png"), "wb") as f:
        f.write(data)


bomb()
