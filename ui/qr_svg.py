"""A QR code of a short text (a room's join link) as plain SVG: no package, no network, no image file.

`qr_matrix(text, mask=None)` -> rows of booleans (True = dark) of the smallest QR code (versions 1-10,
error correction level M, byte mode) that holds `text` as UTF-8: up to 213 bytes, enough for any
join link. It follows ISO/IEC 18004: data codewords, Reed-Solomon blocks interleaved, the zigzag
placement, the mask with the lowest penalty (or `mask` 0-7), format and version information.
`qr_svg(text, label)` -> an <svg> of that matrix with a quiet zone of 4 modules, one <path>, its
label escaped with `views.esc` (gr.HTML evaluates `${...}`).
What is left out: other modes (numeric, alphanumeric, kanji), other error correction levels and
versions above 10 (a longer text raises ValueError).
"""

from .views import esc

# Per version 1-10 at level M: (EC codewords per block, [data codewords of each block]).
_BLOCKS = {1: (10, [16]), 2: (16, [28]), 3: (26, [44]), 4: (18, [32] * 2), 5: (24, [43] * 2), 6: (16, [27] * 4),
           7: (18, [31] * 4), 8: (22, [38] * 2 + [39] * 2), 9: (22, [36] * 3 + [37] * 2),
           10: (26, [43] * 4 + [44])}
_ALIGNMENT = {1: [], 2: [6, 18], 3: [6, 22], 4: [6, 26], 5: [6, 30], 6: [6, 34], 7: [6, 22, 38], 8: [6, 24, 42],
              9: [6, 26, 46], 10: [6, 28, 50]}
_LEVEL_M = 0b00
_MASKS = (lambda r, c: (r + c) % 2 == 0, lambda r, c: r % 2 == 0, lambda r, c: c % 3 == 0,
          lambda r, c: (r + c) % 3 == 0, lambda r, c: (r // 2 + c // 3) % 2 == 0,
          lambda r, c: r * c % 2 + r * c % 3 == 0, lambda r, c: (r * c % 2 + r * c % 3) % 2 == 0,
          lambda r, c: ((r + c) % 2 + r * c % 3) % 2 == 0)


def qr_svg(text, label=""):
    matrix = qr_matrix(text)
    size = len(matrix) + 8
    path = "".join(f"M{c + 4},{r + 4}h1v1h-1z" for r, row in enumerate(matrix) for c, dark in enumerate(row) if dark)
    return (f'<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" role="img" '
            f'aria-label="{esc(label)}" shape-rendering="crispEdges">'
            f'<rect width="{size}" height="{size}" fill="#fff"/><path d="{path}" fill="#000"/></svg>')


def qr_matrix(text, mask=None):
    data = text.encode("utf-8")
    version = next((v for v, (_, blocks) in _BLOCKS.items() if len(data) + 2 + (v >= 10) <= sum(blocks)), None)
    if version is None:
        raise ValueError(f"too long for a QR code of version 10 at level M: {len(data)} bytes")
    codewords = _interleaved(_data_codewords(data, version), version)
    size = 17 + 4 * version
    grid, reserved = _function_patterns(version, size)
    _place(grid, reserved, codewords, size)
    masks = range(8) if mask is None else [mask]
    candidates = [_masked(grid, reserved, version, size, m) for m in masks]
    return min(candidates, key=_penalty) if mask is None else candidates[0]


def _data_codewords(data, version):
    capacity = sum(_BLOCKS[version][1])
    bits = [0, 1, 0, 0] + _bits(len(data), 16 if version >= 10 else 8)
    for byte in data:
        bits += _bits(byte, 8)
    bits += [0] * min(4, capacity * 8 - len(bits))
    bits += [0] * (-len(bits) % 8)
    codewords = [int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8)]
    pads = (0xEC, 0x11)
    return codewords + [pads[i % 2] for i in range(capacity - len(codewords))]


def _interleaved(codewords, version):
    ec_length, lengths = _BLOCKS[version]
    blocks, at = [], 0
    for length in lengths:
        blocks.append(codewords[at:at + length])
        at += length
    ecs = [_reed_solomon(block, ec_length) for block in blocks]
    out = [block[i] for i in range(max(lengths)) for block in blocks if i < len(block)]
    return out + [ec[i] for i in range(ec_length) for ec in ecs]


def _reed_solomon(data, degree):
    exp, log = [0] * 512, [0] * 256
    value = 1
    for i in range(255):
        exp[i], log[value] = value, i
        value = value << 1 ^ (0x11D if value & 0x80 else 0)
    for i in range(255, 512):
        exp[i] = exp[i - 255]
    generator = [1]
    for i in range(degree):  # (x - a^0)(x - a^1)...: coefficients, highest power first
        generator = [a ^ (exp[log[b] + i] if b else 0) for a, b in zip(generator + [0], [0] + generator)]
    remainder = list(data) + [0] * degree
    for i in range(len(data)):
        factor = remainder[i]
        if factor:
            for j, coefficient in enumerate(generator):
                if coefficient:
                    remainder[i + j] ^= exp[log[coefficient] + log[factor]]
    return remainder[len(data):]


def _function_patterns(version, size):
    grid = [[False] * size for _ in range(size)]
    reserved = [[False] * size for _ in range(size)]

    def put(r, c, dark):
        grid[r][c], reserved[r][c] = dark, True

    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):  # finders with their separators
        for r in range(-1, 8):
            for c in range(-1, 8):
                if 0 <= top + r < size and 0 <= left + c < size:
                    ring = max(abs(r - 3), abs(c - 3))
                    put(top + r, left + c, ring != 2 and ring != 4)
    for i in range(8, size - 8):  # timing patterns
        put(6, i, i % 2 == 0)
        put(i, 6, i % 2 == 0)
    centers = _ALIGNMENT[version]
    corners = {(centers[0], centers[0]), (centers[0], centers[-1]), (centers[-1], centers[0])} if centers else set()
    for r in centers:
        for c in centers:
            if (r, c) not in corners:  # those three are the finders'; the others cross the timing lines
                for dr in range(-2, 3):
                    for dc in range(-2, 3):
                        put(r + dr, c + dc, max(abs(dr), abs(dc)) != 1)
    put(size - 8, 8, True)  # the dark module
    for i in range(9):  # format information areas, filled per mask later
        reserved[8][i] = reserved[i][8] = True
    for i in range(8):
        reserved[8][size - 1 - i] = reserved[size - 1 - i][8] = True
    if version >= 7:
        for i in range(18):
            reserved[i // 3][size - 11 + i % 3] = reserved[size - 11 + i % 3][i // 3] = True
    return grid, reserved


def _place(grid, reserved, codewords, size):
    bits = [bit for codeword in codewords for bit in _bits(codeword, 8)]
    at, right = 0, size - 1
    while right > 0:
        if right == 6:
            right = 5  # the vertical timing pattern's column is skipped
        upward = (right + 1) & 2 == 0
        for step in range(size):
            r = size - 1 - step if upward else step
            for c in (right, right - 1):
                if not reserved[r][c]:
                    grid[r][c] = at < len(bits) and bits[at] == 1
                    at += 1
        right -= 2


def _masked(grid, reserved, version, size, mask):
    rule = _MASKS[mask]
    out = [[grid[r][c] ^ (not reserved[r][c] and rule(r, c)) for c in range(size)] for r in range(size)]
    info = _bch(_LEVEL_M << 3 | mask, 5, 0x537) ^ 0x5412
    format_bits = [(info >> i) & 1 == 1 for i in range(15)]  # bit 0 first
    first = [(i, 8) for i in range(6)] + [(7, 8), (8, 8), (8, 7)] + [(8, 14 - i) for i in range(9, 15)]
    second = [(8, size - 1 - i) for i in range(8)] + [(size - 15 + i, 8) for i in range(8, 15)]
    for i, dark in enumerate(format_bits):
        for r, c in (first[i], second[i]):
            out[r][c] = dark
    if version >= 7:
        info = _bch(version, 6, 0x1F25)
        for i in range(18):
            dark = (info >> i) & 1 == 1
            out[i // 3][size - 11 + i % 3] = out[size - 11 + i % 3][i // 3] = dark
    return out


def _bch(value, bits, generator):
    """`value` followed by its BCH remainder (the generator's degree in bits)."""
    degree = generator.bit_length() - 1
    remainder = value << degree
    for shift in range(bits - 1 + degree, degree - 1, -1):
        if remainder >> shift & 1:
            remainder ^= generator << (shift - degree)
    return value << degree | remainder


def _penalty(matrix):
    size, score = len(matrix), 0
    lines = matrix + [list(column) for column in zip(*matrix)]
    for line in lines:
        run = 1
        for i in range(1, size + 1):
            if i < size and line[i] == line[i - 1]:
                run += 1
                continue
            score += run - 2 if run >= 5 else 0
            run = 1
        text = "".join("1" if dark else "0" for dark in line)
        for pattern in ("10111010000", "00001011101"):
            start = text.find(pattern)
            while start != -1:
                score += 40
                start = text.find(pattern, start + 1)
    for r in range(size - 1):
        for c in range(size - 1):
            if matrix[r][c] == matrix[r][c + 1] == matrix[r + 1][c] == matrix[r + 1][c + 1]:
                score += 3
    dark = sum(map(sum, matrix)) * 100 // (size * size)
    return score + 10 * (abs(dark - 50) // 5)


def _bits(value, length):
    return [(value >> i) & 1 for i in range(length - 1, -1, -1)]
