import numpy as np
from PIL import Image

from gan.pictures.grids import GRID_GAP, grid_columns, make_grid, save_png, to_uint8


def test_to_uint8_inverts_the_data_scaling():
    pixels = np.arange(256, dtype=np.uint8)
    assert np.array_equal(to_uint8(pixels / 127.5 - 1.0), pixels)
    assert to_uint8(np.array([-3.0, 3.0])).tolist() == [0, 255]


def test_grid_places_images_row_by_row():
    tiles = np.stack([np.full((4, 5, 3), value, np.uint8) for value in range(1, 6)])
    grid = make_grid(tiles)  # 5 images -> 3 columns, 2 rows
    assert grid.shape == (2 * 4 + GRID_GAP, 3 * 5 + 2 * GRID_GAP, 3)
    step_x, step_y = 5 + GRID_GAP, 4 + GRID_GAP
    assert grid[0, 0, 0] == 1 and grid[0, step_x, 0] == 2 and grid[0, 2 * step_x, 0] == 3
    assert grid[step_y, 0, 0] == 4 and grid[step_y, step_x, 0] == 5
    assert grid[step_y, 2 * step_x, 0] == 128, "an empty cell stays gap-grey"


def test_grid_columns_avoid_empty_cells_where_they_can():
    assert [grid_columns(n) for n in (64, 32, 16, 12, 5, 1)] == [8, 8, 4, 4, 3, 1]


def test_save_png_writes_grayscale_and_rgb_and_leaves_no_partial_file(tmp_path):
    gray = np.random.default_rng(0).integers(0, 256, (6, 7, 1), dtype=np.uint8)
    save_png(gray, tmp_path / "g.png")
    with Image.open(tmp_path / "g.png") as image:
        assert image.mode == "L" and np.array_equal(np.asarray(image), gray[..., 0])
    save_png(np.zeros((6, 7, 3), np.uint8), tmp_path / "c.png")
    assert Image.open(tmp_path / "c.png").mode == "RGB"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "g.png"]
