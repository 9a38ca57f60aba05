"""A bar chart of benchmark ratios as a PNG, with no dependency beyond the standard
library (zlib): a 3x5 pixel font, scaled, and one bar per figure against its
baseline's 1.0 line. ``make bench`` writes docs/_static/benchmarks.png with it."""

from __future__ import annotations

import struct
import zlib

#: 3x5 glyphs, five rows of three bits (left bit first); text is drawn upper case
_FONT = {
    "A": "010101111101101", "B": "110101110101110", "C": "011100100100011",
    "D": "110101101101110", "E": "111100110100111", "F": "111100110100100",
    "G": "011100101101011", "H": "101101111101101", "I": "111010010010111",
    "J": "001001001101010", "K": "101101110101101", "L": "100100100100111",
    "M": "101111111101101", "N": "110101101101101", "O": "010101101101010",
    "P": "110101110100100", "Q": "010101101110011", "R": "110101110101101",
    "S": "011100010001110", "T": "111010010010010", "U": "101101101101111",
    "V": "101101101101010", "W": "101101111111101", "X": "101101010101101",
    "Y": "101101010010010", "Z": "111001010100111", "0": "111101101101111",
    "1": "010110010010111", "2": "110001010100111", "3": "110001010001110",
    "4": "101101111001001", "5": "111100110001110", "6": "011100111101111",
    "7": "111001010010010", "8": "111101111101111", "9": "111101111001110",
    ".": "000000000000010", ",": "000000000010100", ":": "000010000010000",
    "(": "001010010010001", ")": "100010010010100", "=": "000111000111000",
    "/": "001001010100100", "-": "000000111000000", "+": "000010111010000",
    "_": "000000000000111", "%": "101001010100101", "<": "001010100010001",
    ">": "100010001010100", "'": "010010000000000", " ": "000000000000000",
}  # fmt: skip

SCALE = 2
GLYPH_W, GLYPH_H = 4 * SCALE, 6 * SCALE  # with one column and one row of space


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(b"\xff" * (width * height * 3))

    def rect(self, x: int, y: int, w: int, h: int, rgb: tuple[int, int, int]) -> None:
        colour = bytes(rgb)
        for row in range(max(y, 0), min(y + h, self.height)):
            start = (row * self.width + max(x, 0)) * 3
            end = (row * self.width + min(x + w, self.width)) * 3
            self.pixels[start:end] = colour * ((end - start) // 3)

    def text(self, x: int, y: int, s: str, rgb: tuple[int, int, int] = (0, 0, 0)) -> int:
        for ch in s.upper():
            bits = _FONT.get(ch, _FONT[" "])
            for i, bit in enumerate(bits):
                if bit == "1":
                    self.rect(x + (i % 3) * SCALE, y + (i // 3) * SCALE, SCALE, SCALE, rgb)
            x += GLYPH_W
        return x

    def png(self) -> bytes:
        raw = b"".join(
            b"\x00" + bytes(self.pixels[r * self.width * 3 : (r + 1) * self.width * 3])
            for r in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


KEVENTS = (33, 102, 172)
PEER = (150, 150, 150)


def chart(groups: list[dict[str, object]], title: str) -> bytes:
    """``groups``: [{"title", "values": {name: number}, "baseline", "higher": bool}];
    each bar is a value over its group's baseline; kevents' bars are blue."""
    label_w = 36 * GLYPH_W
    bar_w = 300
    row_h = GLYPH_H + 6
    height = 40 + sum(row_h * (len(g["values"]) + 2) for g in groups)  # type: ignore[arg-type]
    canvas = Canvas(label_w + bar_w + 12 * GLYPH_W, height)
    canvas.text(8, 10, title)
    y = 34
    for g in groups:
        values: dict[str, float] = g["values"]  # type: ignore[assignment]
        base = values[str(g["baseline"])]
        better = "higher is better" if g["higher"] else "lower is better"
        canvas.text(8, y, f"{g['title']} ({better})", (60, 60, 60))
        y += row_h
        top = max(v / base for v in values.values()) or 1.0
        scale = bar_w / max(top, 1.0)
        for name, value in values.items():
            ratio = value / base
            canvas.text(8, y + 3, name[:36])
            colour = KEVENTS if name.startswith("kevents") else PEER
            canvas.rect(label_w, y, int(ratio * scale), GLYPH_H, colour)
            canvas.text(label_w + int(ratio * scale) + 6, y + 3, f"{ratio:.2f}x")
            y += row_h
        span = row_h * len(values)
        canvas.rect(label_w + int(scale), y - span, 1, span, (0, 0, 0))  # the 1.0x line
        y += row_h
    return canvas.png()
