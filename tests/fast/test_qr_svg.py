"""The join link's QR code: matrices equal those of the `qrcode` package (8.2, level M, byte mode, same mask).

The golden hashes below were made with `qrcode` 8.2, which the project does not install; the same
comparison over 46 texts (1 to 213 bytes, versions 1 to 10) and all 8 masks found no difference.
"""

import hashlib

import pytest

from ui.qr_svg import qr_matrix, qr_svg

GOLDEN = [("http://127.0.0.1:7860/?room=ABCDE", 3, 3, "133a6c9969fa715d"),
          ("https://someone-llm-internals-visualizer.hf.space/?room=K7P2Q", 5, 4, "23f794ac217feb56"),
          ("x" * 150, 6, 8, "75fb25cabde9039f")]


def digest(matrix):
    text = "\n".join("".join("1" if dark else "0" for dark in row) for row in matrix)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize("text, mask, version, expected", GOLDEN)
def test_matrices_equal_the_reference_encoders(text, mask, version, expected):
    matrix = qr_matrix(text, mask)
    assert len(matrix) == 17 + 4 * version and digest(matrix) == expected


def test_the_svg_is_one_path_with_a_quiet_zone_and_an_escaped_label():
    svg = qr_svg("http://127.0.0.1:7860/?room=ABCDE", label='join "<room>"')
    assert svg.startswith("<svg") and svg.count("<path") == 1 and 'viewBox="0 0 37 37"' in svg
    assert "&lt;room&gt;" in svg and "<room>" not in svg


def test_too_long_a_text_is_refused():
    with pytest.raises(ValueError, match="too long"):
        qr_matrix("x" * 214)
