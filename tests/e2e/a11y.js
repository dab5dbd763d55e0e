// tests/e2e/a11y.js: an accessibility audit of the loaded page, run in
// headless Chromium by test_browser (Runtime.evaluate). It checks what the
// dashboard promises (WCAG 2.1 AA where a page can be checked by rule):
// language, title, one h1 and no skipped heading level, a name for every
// chart and link, header cells on every table, text contrast of at least
// 4.5:1 (3:1 for large text) and chart bars of at least 3:1 against what is
// behind them, all from the styles Chromium computed, and no page wider
// than the window (phone width). The value is "ok" or the problems found.
(() => {
    const problems = [];
    const say = (what, el) =>
        problems.push(what + (el ? ": " + el.outerHTML.slice(0, 100) : ""));

    const rgba = (s) => {
        const m = s.match(/rgba?\(([^)]*)\)/);
        if (!m)
            return null;
        const v = m[1].split(/[ ,\/]+/).filter((x) => x !== "").map(Number);
        return {r : v[0], g : v[1], b : v[2], a : v.length > 3 ? v[3] : 1};
    };
    const luminance = (c) => {
        const lin = (x) => {
            x /= 255;
            return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
        };
        return 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
    };
    const ratio = (a, b) => {
        const x = luminance(a), y = luminance(b);
        return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
    };
    // The first opaque background at or above el (the page's white if none).
    const behind = (el) => {
        for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
            const c = rgba(getComputedStyle(e).backgroundColor);
            if (c && c.a === 1)
                return c;
        }
        return {r : 255, g : 255, b : 255, a : 1};
    };
    const hidden = (el) => el.closest("[aria-hidden=true]") !== null;
    const nameOf = (el) => (el.getAttribute("aria-label") || el.textContent || "").trim();

    if (!(document.documentElement.getAttribute("lang") || "").trim())
        say("the page has no language (html lang)");
    if (!document.title.trim())
        say("the page has no title");

    const heads = [...document.querySelectorAll("h1,h2,h3,h4,h5,h6") ];
    if (heads.filter((h) => h.tagName === "H1").length !== 1)
        say("the page has not exactly one h1");
    let level = 0;
    for (const h of heads) {
        const l = Number(h.tagName[1]);
        if (l > level + 1)
            say("a heading skips a level", h);
        level = l;
    }

    for (const svg of document.querySelectorAll("svg")) {
        if (hidden(svg))
            continue;
        if (svg.getAttribute("role") !== "img" || !nameOf(svg))
            say("a chart without role=img and a name", svg);
    }
    for (const a of document.querySelectorAll("a[href]"))
        if (!nameOf(a))
            say("a link without a name", a);
    for (const t of document.querySelectorAll("table"))
        if (!t.querySelector("th"))
            say("a table without header cells", t);
    for (const th of document.querySelectorAll("th"))
        if (!th.closest("thead") && !th.getAttribute("scope"))
            say("a header cell without scope outside thead", th);
    for (const f of document.querySelectorAll("input,select,textarea"))
        if (!f.labels || f.labels.length === 0)
            say("a field without a label", f);

    // Text contrast: every element with text of its own.
    for (const el of document.body.querySelectorAll("*")) {
        if (el.closest("svg"))
            continue; // seen, even if not read out
        const own = [...el.childNodes ].some((n) => n.nodeType === 3 &&
                                                    n.textContent.trim() !== "");
        if (!own)
            continue;
        const st = getComputedStyle(el);
        if (st.visibility === "hidden" || st.display === "none")
            continue;
        const fg = rgba(st.color);
        const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
        const large = size >= 24 || (bold && size >= 18.66);
        const need = large ? 3 : 4.5;
        const r = ratio(fg, behind(el));
        if (r < need)
            say("text contrast " + r.toFixed(2) + ":1 < " + need + ":1", el);
    }
    // Chart bars against what is behind the chart (non-text contrast).
    for (const rect of document.querySelectorAll("svg rect")) {
        const fill = rgba(getComputedStyle(rect).fill);
        if (!fill)
            continue;
        const r = ratio(fill, behind(rect.closest("svg")));
        if (r < 3)
            say("a bar's contrast " + r.toFixed(2) + ":1 < 3:1", rect);
    }

    // Nothing wider than the window: tables scroll inside their own box.
    if (document.documentElement.scrollWidth > window.innerWidth + 1)
        say("the page is " + document.documentElement.scrollWidth +
            " px wide in a window of " + window.innerWidth);

    return problems.length ? problems.join("\n") : "ok";
})()
