/* The CNN book's static explorers (cnnlib/book/viewer.py writes this script into each one).
 *
 * A viewer (.cnnv-viewer) only chooses among frames that Python computed: its controls
 * pick an index per control, and the frame stored under those indices is shown.
 * Draw-and-classify (.cnnv-pad) is the one exception: it runs the small T/L network
 * (3x3 convolution, ReLU, 2x2 max-pool, dense, ReLU, dense) on what the reader draws
 * on its grid with a mouse, a pen or a finger.
 * Each instance starts the element it sits in, so pages need no other script.
 */
(function (root) {
  "use strict";
  const data = JSON.parse(root.querySelector("script.cnnv-data").textContent);

  function startViewer() {
    const state = data.initial.slice();
    const picture = root.querySelector(".cnnv-frame");
    const caption = root.querySelector(".cnnv-caption");
    const controls = [...root.querySelectorAll("[data-control]")];
    let timer = null;

    function show() {
      const frame = data.frames[state.join(",")];
      picture.src = data.images[frame.image];
      picture.alt = frame.alt;
      caption.textContent = frame.caption;
      root.dataset.values = JSON.stringify(frame.values);
      for (const el of controls) {
        const c = Number(el.dataset.control);
        if (el.type === "range") {
          el.value = state[c];
          el.setAttribute("aria-valuetext", data.controls[c].labels[state[c]]);
          el.closest(".cnnv-control").querySelector("output").textContent =
            data.controls[c].labels[state[c]];
        } else if (el.type === "checkbox") {
          el.checked = state[c] === 1;
        } else if (el.dataset.index !== undefined) {
          el.setAttribute("aria-pressed", String(Number(el.dataset.index) === state[c]));
        }
      }
    }

    function stop(button) {
      clearInterval(timer);
      timer = null;
      button.textContent = "play";
      button.setAttribute("aria-pressed", "false");
    }

    function play(button, c) {
      if (timer !== null) return stop(button);
      const last = data.controls[c].labels.length - 1;
      if (state[c] === last) state[c] = 0;
      else state[c] += 1;
      show();
      button.textContent = "pause";
      button.setAttribute("aria-pressed", "true");
      timer = setInterval(function () {
        if (state[c] >= last) return stop(button);
        state[c] += 1;
        show();
      }, data.interval);
    }

    for (const el of controls) {
      const c = Number(el.dataset.control);
      if (el.type === "range") {
        el.addEventListener("input", function () { state[c] = Number(el.value); show(); });
      } else if (el.type === "checkbox") {
        el.addEventListener("change", function () { state[c] = el.checked ? 1 : 0; show(); });
      } else if (el.classList.contains("cnnv-play")) {
        el.addEventListener("click", function () { play(el, c); });
      } else {
        el.addEventListener("click", function () { state[c] = Number(el.dataset.index); show(); });
      }
    }
    show();
  }

  // The T/L network: y = W2 relu(W1 flatten(maxpool2(relu(conv3x3(x) + b))) + b1) + b2.
  function dense(layer, v) {
    return layer.weight.map(function (row, o) {
      return row.reduce(function (s, w, i) { return s + w * v[i]; }, layer.bias[o]);
    });
  }

  function forward(net, image) {
    const size = image.length;
    const maps = net.conv.weight.map(function (kernel, f) {
      const k = kernel[0].length, n = size - k + 1, map = [];
      for (let i = 0; i < n; i++) {
        const row = [];
        for (let j = 0; j < n; j++) {
          let s = net.conv.bias[f];
          for (let a = 0; a < k; a++)
            for (let b = 0; b < k; b++) s += kernel[0][a][b] * image[i + a][j + b];
          row.push(Math.max(0, s));
        }
        map.push(row);
      }
      return map;
    });
    const pooled = [];   // channel by channel, row by row: cnnlib's Flatten order
    for (const map of maps)
      for (let i = 0; i + 1 < map.length; i += 2)
        for (let j = 0; j + 1 < map.length; j += 2)
          pooled.push(Math.max(map[i][j], map[i][j + 1], map[i + 1][j], map[i + 1][j + 1]));
    const hidden = dense(net.hidden, pooled).map(function (v) { return Math.max(0, v); });
    return {maps: maps, score: dense(net.out, hidden)[0]};
  }

  // Draw-and-classify. Pointer events (mouse, pen, touch): pressing on a cell switches it,
  // and dragging paints every cell the pointer crosses with the value the first cell got,
  // so a plain click toggles one cell and a drag that starts on ink rubs out. In eraser
  // mode, or with the right mouse button, every stroke rubs out. Keyboard activation
  // (and a script's el.click(), whose event has detail 0) toggles a cell too.
  function startPad() {
    const size = data.initial.length;
    const grid = root.querySelector(".cnnv-grid");
    const mapsBox = root.querySelector(".cnnv-maps");
    const eraser = root.querySelector(".cnnv-eraser");
    grid.style.setProperty("--cols", size);
    const cells = [];
    for (let r = 0; r < size; r++)
      for (let c = 0; c < size; c++) {
        const cell = document.createElement("button");
        cell.type = "button";
        cell.className = "cnnv-cell";
        cell.setAttribute("aria-label", "row " + (r + 1) + ", column " + (c + 1));
        cell.setAttribute("aria-pressed", "false");
        grid.appendChild(cell);
        cells.push(cell);
      }

    const inked = function (cell) { return cell.getAttribute("aria-pressed") === "true"; };
    let stroke = null;   // {pointer, value} while a pointer is down on the grid

    function paint(cell, value) {
      if (inked(cell) === value) return;
      cell.setAttribute("aria-pressed", String(value));
      update();
    }

    function cellAt(x, y) {
      const el = document.elementFromPoint(x, y);
      return el && el.classList.contains("cnnv-cell") && el.parentElement === grid ? el : null;
    }

    grid.addEventListener("pointerdown", function (event) {
      const cell = cellAt(event.clientX, event.clientY);
      if (!cell || (event.pointerType === "mouse" && event.button !== 0 && event.button !== 2))
        return;
      event.preventDefault();
      const erasing = eraser.getAttribute("aria-pressed") === "true" || event.button === 2;
      stroke = {pointer: event.pointerId, value: erasing ? false : !inked(cell)};
      if (grid.setPointerCapture) grid.setPointerCapture(event.pointerId);
      paint(cell, stroke.value);
    });
    grid.addEventListener("pointermove", function (event) {
      if (stroke === null || event.pointerId !== stroke.pointer) return;
      const cell = cellAt(event.clientX, event.clientY);
      if (cell) paint(cell, stroke.value);
    });
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"])
      grid.addEventListener(type, function (event) {
        if (stroke !== null && event.pointerId === stroke.pointer) stroke = null;
      });
    grid.addEventListener("contextmenu", function (event) { event.preventDefault(); });
    grid.addEventListener("click", function (event) {
      const cell = event.target.closest(".cnnv-cell");
      if (cell && event.detail === 0) paint(cell, !inked(cell));   // keys, or el.click()
    });
    eraser.addEventListener("click", function () {
      eraser.setAttribute("aria-pressed", String(eraser.getAttribute("aria-pressed") !== "true"));
    });

    function draw(image) {
      cells.forEach(function (cell, i) {
        cell.setAttribute("aria-pressed", String(image[Math.floor(i / size)][i % size] === 1));
      });
      update();
    }

    function colour(v) {
      const top = data.colours.length - 1;
      return data.colours[Math.min(top, Math.round(Math.max(0, v) / data.vmax * top))];
    }

    function update() {
      const image = [];
      for (let r = 0; r < size; r++)
        image.push(cells.slice(r * size, (r + 1) * size).map(function (cell) {
          return inked(cell) ? 1 : 0;
        }));
      const out = forward(data.network, image);
      const empty = image.every(function (row) { return row.every(function (v) { return v === 0; }); });
      const letter = out.score > data.threshold ? data.letters[1] : data.letters[0];
      root.querySelector(".cnnv-letter").textContent = empty ? "draw a letter" : letter;
      root.querySelector(".cnnv-letter").classList.toggle("cnnv-waiting", empty);
      root.querySelector(".cnnv-score").textContent = empty ? "" : "model output " +
        out.score.toFixed(2) + " (above " + data.threshold + " means " + data.letters[1] + ")";
      mapsBox.replaceChildren(...out.maps.map(function (map, k) {
        const box = document.createElement("div"), label = document.createElement("span");
        const grid = document.createElement("div");
        box.className = "cnnv-map-box";
        label.textContent = "kernel " + k;
        grid.className = "cnnv-map";
        grid.style.setProperty("--cols", map.length);
        for (const row of map)
          for (const v of row) {
            const px = document.createElement("span");
            px.style.background = colour(v);
            px.title = v.toFixed(2);
            grid.appendChild(px);
          }
        box.append(label, grid);
        return box;
      }));
      root.dataset.score = String(out.score);
      root.dataset.letter = empty ? "" : letter;
      root.dataset.maps = JSON.stringify(out.maps);
    }

    root.querySelector(".cnnv-clear").addEventListener("click", function () {
      draw(data.initial.map(function (row) { return row.map(function () { return 0; }); }));
    });
    root.querySelector(".cnnv-reset").addEventListener("click", function () { draw(data.initial); });
    draw(data.initial);
  }

  if (root.classList.contains("cnnv-pad")) startPad();
  else startViewer();
})(document.currentScript.closest(".cnnv"));
