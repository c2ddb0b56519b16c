// An HTML result, made safe to show: it may show only what the job produced. The frame it goes
// in is an empty sandbox (no scripts, no forms, no same-origin access); this module adds what
// the sandbox does not stop, remote loads: a lying agent's tracking pixel, ad or stylesheet.
//
// - A Content-Security-Policy as the document's first element allows inline styles and `data:`
//   media only, plus this store's `/ipfs/<cid>` for the CIDs that appear in the job's input
//   (the seed's rule: "comparing to media sources in input data"). A policy in the result
//   itself can only narrow it; the page's own policy, which the frame inherits, is narrower
//   still for everything else.
// - What a policy does not cover is removed: `<meta http-equiv=refresh>` (the frame navigating
//   itself to a remote page) and resource hints (`dns-prefetch`, `preconnect`, …).
// - Every remote load the document asks for is listed, so the job page can say what was
//   blocked.

/** CIDs (v0 `Qm…`, v1 base32 `b…`) written anywhere in `text`. */
export function cidsIn(text: string): string[] {
  const found = text.match(/\b(?:Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{58,})\b/g) ?? [];
  return [...new Set(found)];
}

const HINTS = /\b(dns-prefetch|preconnect|prefetch|prerender|preload|modulepreload)\b/i;
const CSS_URL = /url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3/gi;

export interface Framed {
  /** The document to put in the frame's `srcdoc`. */
  srcdoc: string;
  /** The remote loads it asked for that will not happen. */
  blocked: string[];
}

/** `html` ready for a sandboxed frame on `origin`, where `/ipfs/<cid>` is allowed for `allowedCids`. */
export function frameResult(html: string, allowedCids: string[], origin: string): Framed {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const allowed = allowedCids.map((cid) => `${origin}/ipfs/${cid}`);
  const blocked = new Set<string>();
  const check = (raw: string | null) => {
    if (!raw || !raw.trim()) return;
    let url: URL;
    try {
      url = new URL(raw.trim(), `${origin}/`);
    } catch {
      return;
    }
    if (url.protocol === "data:") return;
    if (!allowed.includes(url.origin + url.pathname)) blocked.add(url.href);
  };
  const checkCss = (css: string | null) => {
    for (const m of (css ?? "").matchAll(CSS_URL)) check(m[2] ?? m[4]);
  };
  for (const meta of doc.querySelectorAll("meta[http-equiv]")) {
    if (/refresh/i.test(meta.getAttribute("http-equiv") ?? "")) {
      const target = /url\s*=\s*['"]?([^'";]+)/i.exec(meta.getAttribute("content") ?? "")?.[1]?.trim();
      let where = "a refresh of the frame";
      try {
        if (target) where = new URL(target, `${origin}/`).href;
      } catch {
        where = `a refresh to ${target}`;
      }
      blocked.add(where);
      meta.remove();
    }
  }
  for (const link of doc.querySelectorAll("link[rel]")) {
    if (HINTS.test(link.getAttribute("rel") ?? "")) {
      check(link.getAttribute("href"));
      link.remove();
    }
  }
  for (const el of doc.querySelectorAll("*")) {
    for (const name of ["src", "poster", "background", "data", "action", "formaction"]) check(el.getAttribute(name));
    for (const part of (el.getAttribute("srcset") ?? "").split(",")) check(part.trim().split(/\s+/)[0]);
    if (el.localName === "link" || el.namespaceURI === "http://www.w3.org/2000/svg") {
      check(el.getAttribute("href"));
      check(el.getAttribute("xlink:href"));
    }
    checkCss(el.getAttribute("style"));
    if (el.localName === "style") checkCss(el.textContent);
  }
  const sources = ["data:", ...allowed].join(" ");
  const policy = doc.createElement("meta");
  policy.httpEquiv = "Content-Security-Policy";
  policy.content =
    `default-src 'none'; style-src 'unsafe-inline'; img-src ${sources}; media-src ${sources}; ` +
    `font-src data:; base-uri 'none'; form-action 'none'`;
  doc.head.prepend(policy);
  return { srcdoc: `<!doctype html>${doc.documentElement.outerHTML}`, blocked: [...blocked] };
}
