"""export.py --format web: a static folder whose page makes, in headless Chromium's
WebAssembly, the faces Python's onnxruntime makes from the same noise.

The browser test skips with a reason without Debian's chromium and chromium-driver or
without npm (export.py fetches onnxruntime-web with it); .ci/run installs all three.
DCGAN_WEB_MODEL=<run or .keras> exports that generator instead of the tiny run's, and
DCGAN_WEB_SCREENSHOT=<png> saves a picture of the page (docs/export_web_page.png).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import run_script
from test_web import CHROMEDRIVER, CHROMIUM, _wait, browser  # noqa: F401  (browser is a fixture)

from gan.export import formats, onnxruntime_web, packages, web_site
from gan.pictures.grids import to_uint8
from gan.pictures.latent import interpolate, seed_noise

needs_onnx = pytest.mark.skipif(bool(packages.missing(("tf2onnx", "onnx", "onnxruntime"))),
                                reason="needs tf2onnx, onnx, onnxruntime: pip install -r requirements-export.txt")


@pytest.fixture(scope="module")
def site(tiny_run, tmp_path_factory) -> Path:
    """The tiny run (or DCGAN_WEB_MODEL) exported as a page, onnxruntime-web fetched by npm."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()] + (["npm"] if shutil.which("npm") is None else [])
    if missing:
        pytest.skip(f"needs Debian's chromium, chromium-driver and npm (missing: {', '.join(missing)}): "
                    "apt-get install chromium chromium-driver npm, as .ci/run does")
    if packages.missing(("tf2onnx", "onnx", "onnxruntime")):
        pytest.skip("needs tf2onnx, onnx, onnxruntime: pip install -r requirements-export.txt")
    out = tmp_path_factory.mktemp("web") / "site"
    result = run_script("export.py", os.environ.get("DCGAN_WEB_MODEL") or str(tiny_run[0]), "--format", "web", "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def site_url(site):
    """The site on a plain static server, as any static host would serve it."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def runner(site):
    from gan.export.runners import OnnxRunner

    return OnnxRunner(site / "generator.onnx")


def _page_faces(driver, panel: str) -> np.ndarray:
    """The pixels of the canvases in #panel, as (N, H, W, 4) uint8."""
    script = (f"return [...document.querySelectorAll('#{panel} canvas')].map((c) => "
              "[c.height, c.width, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)])")
    return np.stack([np.asarray(data, np.uint8).reshape(h, w, 4) for h, w, data in driver.execute_script(script)])


def _as_shown(pixels: np.ndarray) -> np.ndarray:
    """(N, H, W, C) uint8 as the page's RGBA canvases hold them."""
    rgb = np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels
    return np.concatenate([rgb, np.full((*rgb.shape[:-1], 1), 255, np.uint8)], axis=-1)


def _make_faces(driver, noise: np.ndarray) -> np.ndarray:
    script = ("const done = arguments[arguments.length - 1];"
              "makeFaces(new Float32Array(arguments[0]), arguments[1]).then((p) => done(Array.from(p)), (e) => done(String(e)));")
    pixels = driver.execute_async_script(script, noise.ravel().tolist(), len(noise))
    assert isinstance(pixels, list), pixels
    return np.asarray(pixels, np.uint8)


def _show(driver, field_values: dict[str, str], button: str, panel: str) -> np.ndarray:
    from selenium.webdriver.common.by import By

    loads = int(driver.find_element(By.ID, panel).get_attribute("data-loads"))
    for field, value in field_values.items():
        driver.find_element(By.ID, field).clear()
        driver.find_element(By.ID, field).send_keys(value)
    driver.find_element(By.ID, button).click()
    _wait(driver, f"return Number(document.getElementById('{panel}').dataset.loads) > {loads}")
    return _page_faces(driver, panel)


def test_the_page_makes_onnxruntimes_faces_in_chromium(browser, site, site_url, runner):  # noqa: F811
    browser.set_script_timeout(120)
    browser.get(site_url)
    _wait(browser, "return document.body.dataset.ready === 'true'", timeout=120)
    shape = runner.noise_shape
    noise = np.concatenate([seed_noise(7, 5, shape), 3 * seed_noise(8, 3, shape)])  # and some far from the mean
    expected = to_uint8(runner(noise))
    page = _make_faces(browser, noise).reshape(expected.shape)
    assert np.abs(page.astype(int) - expected).max() <= 1

    for seed in (0, 3, 255):  # the table: numpy's noise exactly
        given = browser.execute_script("return Array.from(seedNoise(arguments[0], 16))", seed)
        np.testing.assert_array_equal(np.asarray(given, np.float32).reshape(16, *shape), seed_noise(seed, 16, shape))

    grid = _show(browser, {"count": "5", "seed": "3"}, "show-seed", "faces")
    assert np.abs(grid.astype(int) - _as_shown(to_uint8(runner(seed_noise(3, 5, shape))))).max() <= 1
    assert np.array_equal(_show(browser, {"seed": "3"}, "show-seed", "faces"), grid), "the same seed drew other faces"
    beyond = _show(browser, {"seed": "4294967295"}, "show-seed", "faces")
    assert np.array_equal(_show(browser, {"seed": "4294967295"}, "show-seed", "faces"), beyond)
    assert not np.array_equal(beyond, grid)

    strip = _show(browser, {"from-seed": "3", "to-seed": "4"}, "interpolate", "strip")
    path = interpolate(seed_noise(3, 1, shape)[0], seed_noise(4, 1, shape)[0], 8)
    assert len(strip) == 8 and np.abs(strip.astype(int) - _as_shown(to_uint8(runner(path)))).max() <= 1

    grid = _show(browser, {"count": "16", "seed": "0"}, "show-seed", "faces")
    assert len(grid) == 16
    screenshot = Path(os.environ.get("DCGAN_WEB_SCREENSHOT") or site.parent / "page.png")
    height = browser.execute_script("return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight")
    browser.set_window_size(1200, height)
    browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 0


def test_the_page_reports_a_bad_seed_in_one_line(browser, site, site_url):  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.get(site_url)
    _wait(browser, "return document.body.dataset.ready === 'true'", timeout=120)
    shown = len(browser.find_elements(By.CSS_SELECTOR, "#faces canvas"))
    _show(browser, {"seed": "abc"}, "show-seed", "faces")
    assert browser.find_element(By.ID, "faces-error").text == "seed must be an integer from 0 to 4294967295; received 'abc'"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#faces canvas")) == shown  # the faces shown stay


def test_the_site_holds_the_page_the_model_the_runtime_and_the_noise_table(site):
    names = {path.name for path in site.iterdir()}
    assert {*web_site.PAGE_FILES, "generator.onnx", "noise.bin", "site.json", *onnxruntime_web.FILES, "export.json", "README.md"} <= names
    description = json.loads((site / "site.json").read_text())
    shape = tuple(description["model"]["noise_shape"])
    table = np.fromfile(site / "noise.bin", dtype="<f4").reshape(web_site.NOISE_SEEDS, web_site.FACES_PER_SEED, *shape)
    np.testing.assert_array_equal(table[42], seed_noise(42, web_site.FACES_PER_SEED, shape))
    manifest = json.loads((site / "export.json").read_text())
    assert manifest["formats"]["web"]["parity"]["passed"] and "makeFaces" in (site / "README.md").read_text()


def test_all_means_the_model_formats_not_the_page():
    assert [spec.name for spec in formats.chosen("all")] == ["savedmodel", "onnx", "tflite"]
    assert "web" in formats.CHOICES


def _one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert result.stdout == ""
    return lines[0]


@needs_onnx
def test_without_npm_or_a_runtime_folder_the_export_says_how_to_fix_it(tiny_run, tmp_path, monkeypatch):
    out = tmp_path / "site"
    monkeypatch.setenv("PATH", str(tmp_path / "no-npm-here"))  # run_script starts sys.executable by its full path
    line = _one_error_line(run_script("export.py", str(tiny_run[0]), "--format", "web", "-o", str(out)))
    assert "npm is not installed" in line and "--onnxruntime-web DIR" in line and "apt-get install npm" in line
    assert not out.exists()


@needs_onnx
@pytest.mark.parametrize("flags, message", [
    (["--format", "web", "--onnxruntime-web", "EMPTY"], "lacks ort.wasm.min.js, ort-wasm-simd-threaded.mjs"),
    (["--format", "onnx", "--onnxruntime-web", "EMPTY"], "--onnxruntime-web applies only to --format web"),
])
def test_a_bad_runtime_folder_is_one_error_line_and_nothing_written(tiny_run, tmp_path, flags, message):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "site"
    flags = [str(tmp_path / "empty") if flag == "EMPTY" else flag for flag in flags]
    assert message in _one_error_line(run_script("export.py", str(tiny_run[0]), *flags, "-o", str(out)))
    assert not out.exists()
