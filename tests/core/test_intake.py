"""Image intake: every mode to RGB or L, orientation, frames, reasons, large JPEGs."""

import numpy as np
import pytest
from PIL import Image
from resnet_studio.core.intake import ImageRejected, load_image


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "LA", "RGBA", "CMYK", "1", "I;16", "I", "F"])
def test_every_mode_becomes_rgb_or_l(tmp_path, mode):
    gradient = np.linspace(0, 1, 64 * 48).reshape(48, 64)
    if mode in ("I;16", "I", "F"):
        scale = {"I;16": 65535, "I": 1_000_000, "F": 3.5}[mode]
        image = Image.fromarray((gradient * scale).astype({"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]))
        image = image if image.mode == mode else image.convert(mode)
        path = tmp_path / "x.tiff" if mode != "I;16" else tmp_path / "x.png"
    else:
        image = Image.fromarray((gradient * 255).astype(np.uint8)).convert(mode)
        path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    image.save(path)
    rgb = load_image(path, "RGB")
    assert rgb.mode == "RGB" and rgb.size == (64, 48)
    grey = np.asarray(load_image(path, "L"), dtype=np.float64)
    if mode in ("I;16", "I", "F"):
        # Rescaled to the full range, not clipped to a few grey levels.
        assert grey.min() <= 2 and grey.max() >= 253



def test_transparency_is_composited_on_white(tmp_path):
    image = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    image.save(tmp_path / "clear.png")
    assert load_image(tmp_path / "clear.png").getpixel((3, 3)) == (255, 255, 255)
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.save(tmp_path / "p.png", transparency=0)
    assert load_image(tmp_path / "p.png").getpixel((0, 0)) == (255, 255, 255)



def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    image.save(tmp_path / "rot.jpg", exif=exif)
    assert load_image(tmp_path / "rot.jpg").size == (20, 40)



def test_animated_gif_uses_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (10, 10), c) for c in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    r, g, b = load_image(tmp_path / "a.gif").getpixel((5, 5))
    assert r > 200 and b < 50



@pytest.mark.parametrize("case, reason", [
    ("empty", "empty file"),
    ("text", "not an image in an allowed format"),
    ("truncated", "damaged or truncated"),
    ("directory", "is a directory"),
    ("missing", "cannot read"),
    ("url", "remote URLs are not fetched"),
    ("bomb", "possible decompression bomb"),
    ("svg", "not an image in an allowed format"),
])
def test_bad_inputs_get_their_own_one_line_reason(tmp_path, case, reason):
    path = tmp_path / "x.jpg"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("hello, I am text")
    elif case == "truncated":
        Image.new("RGB", (256, 256), (10, 200, 30)).save(tmp_path / "ok.png")
        path = tmp_path / "cut.png"
        path.write_bytes((tmp_path / "ok.png").read_bytes()[:120])
    elif case == "directory":
        path = tmp_path / "folder.png"
        path.mkdir()
    elif case == "url":
        path = "http://example.com/cat.jpg"
    elif case == "bomb":
        # A real PNG header claiming 20000x20000 with almost no data behind it.
        Image.new("1", (20000, 20000)).save(tmp_path / "bomb.png")
        path = tmp_path / "bomb.png"
    elif case == "svg":
        path = tmp_path / "x.svg"
        path.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    with pytest.raises(ImageRejected) as err:
        load_image(path)
    assert reason in str(err.value) and "\n" not in str(err.value)



def test_large_jpeg_decodes_in_draft_mode(tmp_path):
    Image.new("RGB", (4000, 3000), (90, 120, 200)).save(tmp_path / "big.jpg")
    image = load_image(tmp_path / "big.jpg", min_side=256)
    assert image.size == (500, 375)  # 1/8 scale; the shorter side stays above 256
    assert load_image(tmp_path / "big.jpg").size == (4000, 3000)

