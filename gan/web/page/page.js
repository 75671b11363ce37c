// The faces page: asks the API for faces and shows them. The fields' raw text goes to the
// server, which validates it; its error message is shown as it is.
"use strict";

const $ = (id) => document.getElementById(id);

// One panel of faces (the grid or the strip): a newer request's answer wins even if an
// older one arrives later, and data-loads counts completed updates (the browser test waits on it).
function panel(container, errorLine) {
  let latest = 0;
  return async function load(url, fileName) {
    const request = ++latest;
    let body;
    try {
      const response = await fetch(url);
      body = await response.json();
      if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
    } catch (error) {
      if (request === latest) {
        errorLine.textContent = error.message;
        errorLine.hidden = false;
      }
      return null;
    }
    const links = body.images.map((png, index) => {
      const link = document.createElement("a");
      link.href = `data:image/png;base64,${png}`;
      link.download = fileName(index);
      link.title = `download ${link.download}`;
      const image = document.createElement("img");
      image.src = link.href;
      image.width = image.height = body.size;
      image.alt = link.download;
      link.append(image);
      return link;
    });
    await Promise.all(links.map((link) => link.firstChild.decode()));
    if (request !== latest) return null;
    container.style.gridTemplateColumns = `repeat(${body.columns}, ${body.size}px)`;
    container.replaceChildren(...links);
    errorLine.hidden = true;
    container.dataset.loads = Number(container.dataset.loads) + 1;
    return body;
  };
}

const loadFaces = panel($("faces"), $("faces-error"));
const loadStrip = panel($("strip"), $("interpolation-error"));

async function showFaces() {
  const query = new URLSearchParams({ n: $("count").value, seed: $("seed").value });
  const seed = $("seed").value;
  const body = await loadFaces(`/api/faces?${query}`, (index) => `seed-${seed}-face-${index}.png`);
  if (body) {
    query.set("format", "png");
    $("grid-png").href = `/api/faces?${query}`;
    $("grid-png").download = `seed-${seed}-grid.png`;
  }
}

function newFaces() {
  $("seed").value = crypto.getRandomValues(new Uint32Array(1))[0];
  return showFaces();
}

function showStrip() {
  const query = new URLSearchParams({ a: $("from-seed").value, b: $("to-seed").value, steps: $("steps").value });
  return loadStrip(`/api/interpolate?${query}`, (index) => `seed-${query.get("a")}-to-${query.get("b")}-step-${index}.png`);
}

$("faces-form").addEventListener("submit", (event) => { event.preventDefault(); showFaces(); });
$("new-faces").addEventListener("click", newFaces);
$("interpolation-form").addEventListener("submit", (event) => { event.preventDefault(); showStrip(); });
$("steps").addEventListener("input", () => { $("steps-shown").value = $("steps").value; });
$("steps").addEventListener("change", showStrip);

newFaces();
showStrip();
