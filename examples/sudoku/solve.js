// Sudoku solver: JsJob's classic example, as an Agency job.
//
// Input:  {"puzzle": "81 characters, digits 1-9 and 0 or . for blanks, row by row"}
// Result: {"solution": "81 digits"}; details: {"guesses", "blanks"}.
// A puzzle with no solution, or a malformed one, is an error the job reports (ok: false).

window.jsJobRun = function (input, options, callback) {
  var text = String((input && input.puzzle) || "").replace(/\s+/g, "");
  if (!/^[0-9.]{81}$/.test(text)) {
    callback(new Error("puzzle: expected 81 characters of 1-9, 0 or ."));
    return;
  }
  var grid = [];
  for (var i = 0; i < 81; i++) {
    var c = text.charAt(i);
    grid.push(c === "." ? 0 : c.charCodeAt(0) - 48);
  }

  // Each cell's 20 peers: same row, column or box.
  var peers = [];
  for (var cell = 0; cell < 81; cell++) {
    var r = Math.floor(cell / 9), col = cell % 9, list = [];
    for (var other = 0; other < 81; other++) {
      if (other === cell) continue;
      var r2 = Math.floor(other / 9), c2 = other % 9;
      var sameBox = Math.floor(r / 3) === Math.floor(r2 / 3) &&
                    Math.floor(col / 3) === Math.floor(c2 / 3);
      if (r === r2 || col === c2 || sameBox) list.push(other);
    }
    peers.push(list);
  }

  for (var k = 0; k < 81; k++) {
    if (grid[k] !== 0) {
      for (var p = 0; p < 20; p++) {
        if (grid[peers[k][p]] === grid[k]) {
          callback(new Error("puzzle: digit " + grid[k] + " repeats at cell " + k));
          return;
        }
      }
    }
  }

  var blanks = grid.filter(function (d) { return d === 0; }).length;
  var guesses = 0;

  function candidates(cell) {
    var used = 0;
    for (var p = 0; p < 20; p++) used |= 1 << grid[peers[cell][p]];
    var out = [];
    for (var d = 1; d <= 9; d++) if (!(used & (1 << d))) out.push(d);
    return out;
  }

  // Depth-first search, always on the blank cell with the fewest candidates.
  function search() {
    var best = -1, bestCands = null;
    for (var cell = 0; cell < 81; cell++) {
      if (grid[cell] !== 0) continue;
      var cands = candidates(cell);
      if (cands.length === 0) return false;
      if (best < 0 || cands.length < bestCands.length) {
        best = cell;
        bestCands = cands;
        if (cands.length === 1) break;
      }
    }
    if (best < 0) return true;
    for (var i = 0; i < bestCands.length; i++) {
      if (bestCands.length > 1) guesses++;
      grid[best] = bestCands[i];
      if (search()) return true;
    }
    grid[best] = 0;
    return false;
  }

  if (!search()) {
    callback(new Error("puzzle: no solution"));
    return;
  }
  console.log("solved " + blanks + " blanks with " + guesses + " guesses");
  callback(null, { solution: grid.join("") }, { blanks: blanks, guesses: guesses });
};
