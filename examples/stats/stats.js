// Data job: descriptive statistics and a least-squares line over a table of observations.
//
// Input:  {"columns": ["x", "y", ...], "rows": [[1, 2.5, ...], ...]}; options: {"x": "col", "y": "col", "bins": 8}
// Result: per column {n, mean, stddev, min, q1, median, q3, max, histogram}, and the fit
//         y = slope·x + intercept with r² when options name x and y.
// Only + − × ÷ and Math.sqrt are used: IEEE 754 makes them exact, so every replica agrees.

window.jsJobRun = function (input, options, callback) {
  if (!input || !Array.isArray(input.columns) || !Array.isArray(input.rows)) {
    callback(new Error('input: expected {"columns": [...], "rows": [[...], ...]}'));
    return;
  }
  var cols = input.columns, bins = (options && options.bins) || 8;
  var data = cols.map(function () { return []; });
  input.rows.forEach(function (row, i) {
    if (!Array.isArray(row) || row.length !== cols.length) {
      throw new Error("row " + i + ": expected " + cols.length + " values");
    }
    row.forEach(function (v, j) {
      if (typeof v === "number" && isFinite(v)) data[j].push(v);
    });
  });

  function quantile(sorted, q) {
    var pos = (sorted.length - 1) * q, lo = Math.floor(pos), hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  }

  function describe(values) {
    var n = values.length;
    if (n === 0) return { n: 0 };
    var sorted = values.slice().sort(function (a, b) { return a - b; });
    var mean = 0;
    values.forEach(function (v) { mean += v; });
    mean /= n;
    var ss = 0;
    values.forEach(function (v) { ss += (v - mean) * (v - mean); });
    var min = sorted[0], max = sorted[n - 1], width = (max - min) / bins || 1;
    var histogram = [];
    for (var b = 0; b < bins; b++) histogram.push(0);
    values.forEach(function (v) { histogram[Math.min(bins - 1, Math.floor((v - min) / width))]++; });
    return {
      n: n, mean: mean, stddev: n > 1 ? Math.sqrt(ss / (n - 1)) : 0,
      min: min, q1: quantile(sorted, 0.25), median: quantile(sorted, 0.5),
      q3: quantile(sorted, 0.75), max: max, histogram: histogram
    };
  }

  var summary = {};
  cols.forEach(function (name, j) { summary[name] = describe(data[j]); });
  var result = { columns: summary };

  if (options && options.x && options.y) {
    var xi = cols.indexOf(options.x), yi = cols.indexOf(options.y);
    if (xi < 0 || yi < 0) throw new Error("options: no column " + (xi < 0 ? options.x : options.y));
    var pairs = input.rows.filter(function (r) {
      return typeof r[xi] === "number" && typeof r[yi] === "number";
    });
    var n = pairs.length, sx = 0, sy = 0;
    pairs.forEach(function (r) { sx += r[xi]; sy += r[yi]; });
    var mx = sx / n, my = sy / n, sxy = 0, sxx = 0, syy = 0;
    pairs.forEach(function (r) {
      var dx = r[xi] - mx, dy = r[yi] - my;
      sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
    });
    var slope = sxy / sxx;
    result.fit = { x: options.x, y: options.y, n: n, slope: slope,
                   intercept: my - slope * mx, r2: (sxy * sxy) / (sxx * syy) };
    console.log("fit " + options.y + " = " + slope.toFixed(4) + "·" + options.x + " + " +
                (my - slope * mx).toFixed(4));
  }
  console.log("described " + cols.length + " columns over " + input.rows.length + " rows");
  callback(null, result);
};
