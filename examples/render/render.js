// Page renderer: turns structured content into a standalone HTML page, the use case of the 2016
// original (which rendered pages in PhantomJS). Runs under QuickJS: no DOM needed, every byte of
// the page is decided by the input, so replicas agree.
//
// Input:  {"title", "lang"?, "blocks": [{"type": "heading"|"paragraph"|"list"|"table"|"quote"|"code", ...}]}
// Result: {"html": "<!doctype html>…"}; details: {"bytes", "blocks", "words"}.
// Text is HTML-escaped; links keep only http(s) and mailto URLs.

window.jsJobRun = function (input, options, callback) {
  if (!input || typeof input.title !== "string" || !Array.isArray(input.blocks)) {
    callback(new Error('input: expected {"title": string, "blocks": [...]}'));
    return;
  }
  var words = 0;

  function esc(s) {
    s = String(s);
    words += s.split(/\s+/).filter(Boolean).length;
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
            .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  // Inline markup: **bold**, *italic*, `code` and [text](url), applied to escaped text.
  function inline(s) {
    return esc(s)
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/\*([^*]+)\*/g, "<em>$1</em>")
      .replace(/`([^`]+)`/g, "<code>$1</code>")
      .replace(/\[([^\]]+)\]\(((?:[^()\s]|\([^()\s]*\))+)\)/g, function (all, text, url) {
        var safe = /^(https?:|mailto:)/i.test(url.replace(/&amp;/g, "&"));
        return safe ? '<a href="' + url + '">' + text + "</a>" : text;
      });
  }

  function slug(s) {
    return String(s).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  }

  var toc = [];
  var body = input.blocks.map(function (b, i) {
    switch (b && b.type) {
      case "heading": {
        var level = Math.min(Math.max(b.level | 0 || 2, 2), 4);
        var id = slug(b.text) || "section-" + i;
        if (level === 2) toc.push('<li><a href="#' + id + '">' + esc(b.text) + "</a></li>");
        return "<h" + level + ' id="' + id + '">' + inline(b.text) + "</h" + level + ">";
      }
      case "paragraph":
        return "<p>" + inline(b.text) + "</p>";
      case "list": {
        var tag = b.ordered ? "ol" : "ul";
        return "<" + tag + ">" + (b.items || []).map(function (it) {
          return "<li>" + inline(it) + "</li>";
        }).join("") + "</" + tag + ">";
      }
      case "table": {
        var head = "<tr>" + (b.columns || []).map(function (c) {
          return "<th>" + esc(c) + "</th>";
        }).join("") + "</tr>";
        var rows = (b.rows || []).map(function (row) {
          return "<tr>" + row.map(function (c) {
            return typeof c === "number" ? '<td class="num">' + c + "</td>" : "<td>" + inline(c) + "</td>";
          }).join("") + "</tr>";
        }).join("");
        return "<table><thead>" + head + "</thead><tbody>" + rows + "</tbody></table>";
      }
      case "quote":
        return "<blockquote><p>" + inline(b.text) + "</p>" +
          (b.by ? "<footer>— " + esc(b.by) + "</footer>" : "") + "</blockquote>";
      case "code":
        return "<pre><code>" + esc(b.text) + "</code></pre>";
      default:
        throw new Error("block " + i + ": unknown type " + JSON.stringify(b && b.type));
    }
  });

  var css = "body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}" +
    "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.25rem .5rem}" +
    "td.num{text-align:right}blockquote{border-left:3px solid #ccc;margin-left:0;padding-left:1rem}";
  var html = "<!doctype html>\n<html lang=\"" + esc(input.lang || "en") + "\">\n<head>\n" +
    "<meta charset=\"utf-8\">\n<title>" + esc(input.title) + "</title>\n<style>" + css + "</style>\n" +
    "</head>\n<body>\n<h1>" + inline(input.title) + "</h1>\n" +
    (toc.length > 1 ? "<nav><ul>" + toc.join("") + "</ul></nav>\n" : "") +
    body.join("\n") + "\n</body>\n</html>\n";
  console.log("rendered " + input.blocks.length + " blocks, " + html.length + " characters");
  callback(null, { html: html }, { bytes: html.length, blocks: input.blocks.length, words: words });
};
