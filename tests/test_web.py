"""serve.py and its Flask app (gan/web/app.py): the API through Flask's test client, the CLI's
errors, and the page itself in headless Chromium against a real serve.py process."""

from __future__ import annotations

import base64
import io
import os
import queue
import re
import socket
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_ROOT, run_script
from PIL import Image

from gan.errors import UserError
from gan.pictures.grids import grid_columns, make_grid, to_uint8
from gan.pictures.latent import generate, load_generator, seed_noise
from gan.runs.folder import model_step, newest_generator
from gan.web.app import create_app, exposure_warning, listen

SCALE = 8  # the tiny run's 16x16 faces are shown at 128x128


@pytest.fixture(scope="module")
def model_file(tiny_run) -> Path:
    return newest_generator(tiny_run[0])


@pytest.fixture(scope="module")
def generator(model_file):
    return load_generator(model_file)


@pytest.fixture(scope="module")
def app(generator, model_file):
    return create_app(generator, model_file.name, model_step(model_file))


@pytest.fixture
def client(app):
    return app.test_client()


def _decode(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image)


def _faces(client, query: str) -> list[np.ndarray]:
    response = client.get(query)
    assert response.status_code == 200, response.get_json()
    return [_decode(base64.b64decode(face)) for face in response.get_json()["images"]]


# The API

def test_faces_are_the_generators_images_upscaled_sharply(client, generator):
    response = client.get("/api/faces?n=5&seed=3")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert {key: body[key] for key in ("seed", "n", "size", "columns")} == {"seed": 3, "n": 5, "size": 128, "columns": 3}
    faces = [_decode(base64.b64decode(face)) for face in body["images"]]
    expected = to_uint8(generate(generator, seed_noise(3, 5, (1, 1, 8))))[..., 0]
    for face, small in zip(faces, expected, strict=True):
        assert face.shape == (128, 128)
        pixels = face[::SCALE, ::SCALE]
        assert np.array_equal(face, pixels.repeat(SCALE, 0).repeat(SCALE, 1)), "not a nearest-neighbour upscale"
        assert np.abs(pixels.astype(int) - small).max() <= 1  # graph vs eager rounding at most
    again = _faces(client, "/api/faces?n=5&seed=3")
    other = _faces(client, "/api/faces?n=5&seed=4")
    assert all(np.array_equal(a, b) for a, b in zip(faces, again))
    assert not any(np.array_equal(a, b) for a, b in zip(faces, other))


def test_faces_as_one_png_grid(client):
    faces = _faces(client, "/api/faces?n=6&seed=9")
    response = client.get("/api/faces?n=6&seed=9&format=png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    grid = _decode(response.data)
    assert np.array_equal(grid, make_grid(np.stack(faces)[..., None], grid_columns(6))[..., 0])


def test_interpolation_runs_from_the_first_face_of_seed_a_to_that_of_seed_b(client):
    body = client.get("/api/interpolate?a=3&b=4&steps=8").get_json()
    assert (body["a"], body["b"], body["steps"], body["columns"], len(body["images"])) == (3, 4, 8, 8, 8)
    strip = [_decode(base64.b64decode(face)).astype(int) for face in body["images"]]
    start, end = (_faces(client, f"/api/faces?n=1&seed={seed}")[0] for seed in (3, 4))
    assert np.abs(strip[0] - start).max() <= 1 and np.abs(strip[-1] - end).max() <= 1
    assert np.abs(strip[4] - start).max() > 1 and np.abs(strip[4] - end).max() > 1
    png = client.get("/api/interpolate?a=3&b=4&steps=8&format=png")
    assert png.mimetype == "image/png" and _decode(png.data).shape == (128, 8 * 128 + 7 * 2)


def test_boundary_values_are_served(client):
    assert len(_faces(client, "/api/faces?n=64&seed=4294967295")) == 64
    assert len(_faces(client, "/api/faces?n=1&seed=0")) == 1
    assert len(_faces(client, "/api/interpolate?a=0&b=4294967295&steps=32")) == 32
    assert len(_faces(client, "/api/interpolate?a=5&b=5&steps=2")) == 2


HUGE = "1" + "0" * 30


@pytest.mark.parametrize(
    "query, message",
    [
        ("/api/faces?seed=3", "n is required: an integer from 1 to 64"),
        ("/api/faces?n=16", "seed is required: an integer from 0 to 4294967295"),
        ("/api/faces", "n is required: .*"),
        ("/api/faces?n=&seed=3", "n must be an integer from 1 to 64; received ''"),
        ("/api/faces?n=abc&seed=3", "n must be .* received 'abc'"),
        ("/api/faces?n=1.5&seed=3", "n must be .* received '1.5'"),
        ("/api/faces?n=1e3&seed=3", "n must be .* received '1e3'"),
        ("/api/faces?n=-1&seed=3", "n must be .* received '-1'"),
        ("/api/faces?n=%2B3&seed=3", r"n must be .* received '\+3'"),
        ("/api/faces?n=%203&seed=3", "n must be .* received ' 3'"),
        ("/api/faces?n=0x10&seed=3", "n must be .* received '0x10'"),
        ("/api/faces?n=%EF%BC%93&seed=3", "n must be .* received '３'"),  # a full-width 3
        ("/api/faces?n=0&seed=3", "n must be .* received '0'"),
        ("/api/faces?n=65&seed=3", "n must be .* received '65'"),
        (f"/api/faces?n={HUGE}&seed=3", rf"n must be .* received '{HUGE[:21]}\.\.\.'"),
        ("/api/faces?n=16&seed=-1", "seed must be an integer from 0 to 4294967295; received '-1'"),
        ("/api/faces?n=16&seed=4294967296", "seed must be .* received '4294967296'"),
        ("/api/faces?n=16&seed=" + "7" * 5000, r"seed must be .* received '7{21}\.\.\.'"),
        ("/api/faces?n=16&n=2&seed=3", "n may be given only once"),
        ("/api/faces?n=16&seed=3&seeds=4", "unknown parameter 'seeds'; this endpoint takes n, seed, format"),
        ("/api/faces?n=16&seed=3&path=/etc/passwd", "unknown parameter 'path'.*"),
        ("/api/faces?n=16&seed=3&format=gif", "format must be one of json, png, given at most once"),
        ("/api/interpolate?b=2&steps=8", "a is required: an integer from 0 to 4294967295"),
        ("/api/interpolate?a=1&b=x&steps=8", "b must be .* received 'x'"),
        ("/api/interpolate?a=1&b=2", "steps is required: an integer from 2 to 32"),
        ("/api/interpolate?a=1&b=2&steps=1", "steps must be an integer from 2 to 32; received '1'"),
        ("/api/interpolate?a=1&b=2&steps=33", "steps must be .* received '33'"),
        ("/api/interpolate?a=1&b=2&steps=8.0", "steps must be .* received '8.0'"),
        (f"/api/interpolate?a={HUGE}&b=2&steps=8", "a must be .*"),
        ("/api/interpolate?a=1&b=2&steps=8&n=3", "unknown parameter 'n'; this endpoint takes a, b, steps, format"),
    ],
)
def test_bad_queries_are_a_400_with_a_json_message(client, query, message):
    response = client.get(query)
    assert response.status_code == 400 and response.mimetype == "application/json"
    assert re.fullmatch(message, response.get_json()["error"]), response.get_json()


def test_the_page_says_what_it_serves_and_no_route_takes_a_path(app, client, model_file):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert f"<strong>{model_file.name}</strong>" in text and "trained for <strong>25</strong> steps" in text
    assert "16&times;16 faces shown at 128&times;128" in text and "New faces" in text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/page.js").mimetype == "text/javascript" and client.get("/page.css").mimetype == "text/css"
    shared = client.get("/studio.css")
    assert shared.mimetype == "text/css" and b"font-family" in shared.data
    assert all(not rule.arguments for rule in app.url_map.iter_rules()), "a route takes part of the URL as a value"
    for path in ("/static/page.js", "/web_page/index.html", "/page.js/../web.py", "/api/faces/../../web.py"):
        missing = client.get(path)
        assert missing.status_code == 404 and missing.get_json() == {"error": "404 Not Found"}, path
    wrong_method = client.post("/api/faces?n=1&seed=1")
    assert wrong_method.status_code == 405 and wrong_method.get_json() == {"error": "405 Method Not Allowed"}


def test_concurrent_requests_each_get_their_own_faces(app):
    queries = [f"/api/faces?n={1 + seed % 5}&seed={seed}" for seed in range(10)]
    queries += [f"/api/interpolate?a={seed}&b={seed + 1}&steps={2 + seed}" for seed in range(6)]
    alone = {query: app.test_client().get(query).get_json()["images"] for query in queries}
    start = threading.Barrier(len(queries))

    def fetch(query: str) -> list[str]:
        start.wait(timeout=30)
        return app.test_client().get(query).get_json()["images"]

    with ThreadPoolExecutor(max_workers=len(queries)) as pool:
        together = dict(zip(queries, pool.map(fetch, queries)))
    assert together == alone


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "::1", "localhost"])
def test_loopback_hosts_need_no_warning(host):
    assert exposure_warning(host) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "my-laptop.local"])
def test_other_hosts_warn_that_the_page_has_no_authentication(host):
    assert f"listening on {host}, not loopback: the page has no authentication" in exposure_warning(host)


@pytest.mark.parametrize("host", ["192.168..1", "a" * 64 + ".local"])
def test_a_malformed_host_is_one_user_error(app, host):
    with pytest.raises(UserError, match=rf"^cannot listen on {re.escape(host)}:0: "):
        listen(app, host, 0)


def test_listening_on_a_busy_port_is_one_user_error(app):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(UserError, match=rf"^cannot listen on 127\.0\.0\.1:{port}: Address already in use$"):
            listen(app, "127.0.0.1", port)
    server = listen(app, "127.0.0.1", 0)
    assert server.port > 0
    server.server_close()


# serve.py

def _one_line_error(result: subprocess.CompletedProcess, pattern: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and re.fullmatch(f"error: {pattern}", lines[0]), result.stderr


def test_serve_refuses_what_it_cannot_serve_in_one_line(tmp_path):
    _one_line_error(run_script("serve.py", str(tmp_path / "nowhere")), "no such run folder: .*nowhere")
    _one_line_error(run_script("serve.py", str(tmp_path / "gone.keras")), "no such model file: .*gone.keras")
    (tmp_path / "run" / "models").mkdir(parents=True)
    (tmp_path / "run" / "config.json").write_text("{}")
    _one_line_error(run_script("serve.py", str(tmp_path / "run")), "no generator_NNNN.keras saves in .*models")
    _one_line_error(run_script("serve.py", str(tmp_path), "--port", "65536"), "--port must be from 0 to 65535; received 65536")


# The page in a real browser

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1200,1000",
]


@pytest.fixture
def browser():
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): apt-get install chromium chromium-driver, as .ci/run does")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory() as profile:
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)  # a given driver: nothing is downloaded
        try:
            yield driver
        finally:
            driver.quit()


def _start_serve(*args: str, stderr) -> tuple[subprocess.Popen, queue.Queue]:
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "serve.py"), *args],
        cwd=PROJECT_ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE, stderr=stderr, text=True,
    )
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return process, lines


def _served_url(lines: queue.Queue, log: Path) -> str:
    while (line := lines.get(timeout=120)) is not None:
        if match := re.fullmatch(r"Serving on (http://127\.0\.0\.1:\d+)  \(Ctrl-C stops\)\n", line):
            return match.group(1)
    pytest.fail(f"serve.py ended without serving: {log.read_text()}")


def _wait(driver, script: str, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))


def _picture(element) -> np.ndarray:
    """The element's pixels as the browser drew them."""
    return _decode(element.screenshot_as_png)


def test_the_page_in_chromium_makes_reproducible_faces_and_shows_errors(browser, tiny_run, tmp_path):
    """DCGAN_WEB_MODEL=<run or .keras> serves that generator instead of the tiny run's, and
    DCGAN_SCREENSHOT=<png> saves a picture of the whole page (the README's)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    source = os.environ.get("DCGAN_WEB_MODEL") or str(tiny_run[0])
    log = tmp_path / "serve.log"
    with open(log, "w") as stderr:
        server, lines = _start_serve(source, "--port", "0", stderr=stderr)
        try:
            url = _served_url(lines, log)
            port = url.rsplit(":", 1)[1]
            second = subprocess.Popen(  # on the same port, while the browser works
                [sys.executable, str(PROJECT_ROOT / "serve.py"), source, "--port", port],
                cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            browser.get(url)
            field, grid = browser.find_element(By.ID, "seed"), browser.find_element(By.ID, "faces")
            loads = "return document.getElementById('{}').dataset.loads === '{}'"
            _wait(browser, loads.format("faces", 1) + " && " + loads.format("strip", 1)[7:])
            first_seed, first = field.get_property("value"), _picture(grid)
            first_sources = [image.get_property("src") for image in grid.find_elements(By.TAG_NAME, "img")]
            images = grid.find_elements(By.TAG_NAME, "img")
            assert len(images) == 16 and all(image.get_property("naturalWidth") >= 128 for image in images)

            browser.find_element(By.ID, "new-faces").click()
            _wait(browser, loads.format("faces", 2))
            assert field.get_property("value") != first_seed
            assert not np.array_equal(_picture(grid), first), "New faces drew the same pixels"

            field.clear()
            field.send_keys(first_seed)
            browser.find_element(By.ID, "show-seed").click()
            _wait(browser, loads.format("faces", 3))
            assert np.array_equal(_picture(grid), first), "the same seed drew other pixels"
            assert [image.get_property("src") for image in grid.find_elements(By.TAG_NAME, "img")] == first_sources

            browser.find_element(By.ID, "steps").send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
            _wait(browser, "return document.querySelectorAll('#strip img').length === 10")
            assert browser.find_element(By.ID, "steps-shown").text == "10"
            if screenshot := os.environ.get("DCGAN_SCREENSHOT"):
                height, chrome = browser.execute_script(
                    "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]"
                )
                browser.set_window_size(1200, height + chrome)
                browser.save_screenshot(screenshot)

            count, error = browser.find_element(By.ID, "count"), browser.find_element(By.ID, "faces-error")
            count.clear()
            count.send_keys("65")
            browser.find_element(By.ID, "show-seed").click()
            _wait(browser, "return !document.getElementById('faces-error').hidden")
            assert error.text == "n must be an integer from 1 to 64; received '65'"
            assert len(grid.find_elements(By.TAG_NAME, "img")) == 16  # the faces shown stay
            count.clear()
            count.send_keys("4")
            field.clear()
            field.send_keys("abc")
            browser.find_element(By.ID, "show-seed").click()
            _wait(browser, "return document.getElementById('faces-error').textContent.includes('abc')")
            assert error.text == "seed must be an integer from 0 to 4294967295; received 'abc'"
            _, second_error = second.communicate(timeout=120)
            busy = subprocess.CompletedProcess(second.args, second.returncode, "", second_error)
            _one_line_error(busy, rf"cannot listen on 127\.0\.0\.1:{port}: Address already in use")
        finally:
            server.terminate()
            server.wait(timeout=30)
