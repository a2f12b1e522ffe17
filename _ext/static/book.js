/* The book's own behaviour, on top of sphinx-book-theme (added by _ext/site_theme.py). */
"use strict";

/* On a phone the chapter list and the page's contents open as dialogs over the page; following
 * a link inside one must also close it, or the reader stays behind the dialog. */
function closeSidebarDialogsOnLinks() {
  for (const id of ["pst-primary-sidebar-modal", "pst-secondary-sidebar-modal"]) {
    const dialog = document.getElementById(id);
    if (!dialog) continue;
    dialog.addEventListener("click", (event) => {
      const link = event.target.closest("a[href]");
      if (link && dialog.open) dialog.close();
    });
  }
}

/* A box that scrolls sideways (a wide equation, table or figure on a phone) must be reachable
 * with the keyboard, so it becomes a tab stop while it scrolls. */
const SCROLL_BOXES = [
  ".bd-article figure",
  ".bd-article span.math.wide-inline-math",
  ".bd-article mjx-container[display='true']",
  ".bd-article .cell_output .output.text_html",
].join(", ");

/* An inline formula wider than the column cannot wrap (MathJax 3 does not break lines): it
 * becomes a box of its own that scrolls sideways, rather than being cut off. */
function boxWideInlineMath() {
  document.querySelectorAll(".bd-article span.math > mjx-container:not([display='true'])").forEach((math) => {
    const span = math.parentElement;
    if (span.closest("td, th")) return;  // a table cell grows to fit its formula; the table scrolls
    const block = span.closest("p, li, dd, .admonition, article") || span.parentElement;
    const wide = math.getBoundingClientRect().width > block.clientWidth;
    span.classList.toggle("wide-inline-math", wide);
  });
}

function updateScrollBoxTabStops() {
  document.querySelectorAll(SCROLL_BOXES).forEach((box) => {
    if (box.scrollWidth > box.clientWidth + 1) {
      box.tabIndex = 0;
    } else if (box.tagName === "FIGURE") {
      box.removeAttribute("tabindex");
    }
  });
}

/* A table's columns that hold only numbers are right-aligned, their header with them (book.css):
 * digits line up and a number never runs into its neighbour. "–" (no value) and empty cells do
 * not make a column text. Header rows may span columns (pandas' two-level headers). */
const NUMBER = /^[−+-]?(\d[\d,]*(\.\d*)?|\.\d+)\s?%?$/;
const NO_VALUE = /^(–|—|-|)$/;

function tableGrid(table) {
  const grid = [];
  table.querySelectorAll("tr").forEach((row, r) => {
    grid[r] = grid[r] || [];
    let c = 0;
    for (const cell of row.children) {
      while (grid[r][c]) c++;
      const span = cell.colSpan || 1, down = cell.rowSpan || 1;
      for (let i = 0; i < down; i++) {
        grid[r + i] = grid[r + i] || [];
        for (let j = 0; j < span; j++) grid[r + i][c + j] = cell;
      }
      c += span;
    }
  });
  return grid;
}

function alignNumberColumns() {
  document.querySelectorAll(".bd-article table").forEach((table) => {
    const grid = tableGrid(table);
    const bodyRows = [...table.querySelectorAll("tr")].map((row) => !row.closest("thead"));
    const columns = Math.max(0, ...grid.map((row) => row.length));
    for (let c = 0; c < columns; c++) {
      const body = grid.filter((_, r) => bodyRows[r]).map((row) => row[c]).filter(Boolean);
      if (!body.length || body.some((cell) => cell.tagName === "TH" || cell.colSpan > 1)) continue;
      const texts = body.map((cell) => cell.textContent.trim());
      if (!texts.some((t) => NUMBER.test(t)) || !texts.every((t) => NUMBER.test(t) || NO_VALUE.test(t))) continue;
      grid.forEach((row) => {
        const cell = row[c];
        if (cell && (cell.colSpan || 1) === 1) cell.classList.add("numeric-column");
      });
    }
  });
}

/* Punctuation stays on the line of the formula it follows: a line may otherwise break between an
 * inline formula and the comma or full stop after it. The formula and the punctuation are
 * wrapped together in a span that does not break. */
function keepPunctuationWithMath() {
  document.querySelectorAll(".bd-article span.math:not(.math-with-punctuation span.math)").forEach((span) => {
    const next = span.nextSibling;
    if (!next || next.nodeType !== Node.TEXT_NODE) return;
    const punctuation = next.textContent.match(/^[.,;:!?)\]’”]+/);
    if (!punctuation) return;
    const rest = next.splitText(punctuation[0].length);
    const group = document.createElement("span");
    group.className = "math-with-punctuation";
    span.parentNode.insertBefore(group, span);
    group.append(span, next);
    void rest;
  });
}

document.addEventListener("DOMContentLoaded", closeSidebarDialogsOnLinks);
document.addEventListener("DOMContentLoaded", keepPunctuationWithMath);
document.addEventListener("DOMContentLoaded", alignNumberColumns);
function fitWideContent() {
  boxWideInlineMath();
  updateScrollBoxTabStops();
}

window.addEventListener("resize", fitWideContent);
window.addEventListener("load", () => {
  fitWideContent();
  // Equations take their width once MathJax has typeset them.
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(fitWideContent);
  }
});

/* The search page shows a snippet of each page it finds. Sphinx takes it from the page's text,
 * solutions included; on the main site the solutions are not indexed (_ext/exercise_pages.py),
 * and their text stays out of the snippets too. */
// Formulas are quoted in snippets as text, not as the TeX the page holds before MathJax runs:
// Greek letters and common symbols as characters, the TeX markup dropped.
const TEX_SYMBOLS = {
  alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ", eta: "η",
  theta: "θ", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π", rho: "ρ", sigma: "σ",
  tau: "τ", phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω", Gamma: "Γ", Delta: "Δ",
  Theta: "Θ", Lambda: "Λ", Sigma: "Σ", Phi: "Φ", Omega: "Ω", sim: "∼", mid: "∣", le: "≤", leq: "≤",
  ge: "≥", geq: "≥", ne: "≠", neq: "≠", approx: "≈", times: "×", cdot: "·", pm: "±", to: "→",
  infty: "∞", sum: "Σ", prod: "Π", int: "∫", partial: "∂", sqrt: "√", ldots: "…", dots: "…",
  quad: " ", qquad: " ", frac: "", tfrac: "", dfrac: "", displaystyle: "", limits: "",
};
function texAsText(tex) {
  return tex
    .replace(/^\\\(|\\\)$|^\\\[|\\\]$/g, "")
    .replace(/\\(?:mathcal|mathbb|mathrm|operatorname|text|textrm|mathbf|hat|bar|tilde)\s*/g, "")
    .replace(/\\(left|right|big|Big|bigg|Bigg)(?![a-zA-Z])/g, "")
    .replace(/\\([a-zA-Z]+)/g, (match, name) => TEX_SYMBOLS[name] ?? name)
    .replace(/\\[,;:! ]/g, " ")
    .replace(/\\\{/g, "\u0001").replace(/\\\}/g, "\u0002")
    .replace(/[{}]/g, "")
    .replace(/\u0001/g, "{").replace(/\u0002/g, "}")
    .replace(/\s+/g, " ")
    .trim();
}

// searchtools.js declares `Search` with const: a global binding, not a property of window.
if (typeof Search !== "undefined" && typeof Search.htmlToText === "function") {
  const pageText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(".tag_solution, details.solution").forEach((solution) => solution.remove());
    page.querySelectorAll(".math").forEach((math) => { math.textContent = texAsText(math.textContent.trim()); });
    return pageText(page.documentElement.outerHTML, anchor);
  };
}

/* The search lists the glossary once: its terms are indexed as objects and the page as text, so
 * a word found in a definition would list the glossary under several entries. The first (best)
 * glossary entry stays. */
function listGlossaryOnce(results) {
  let seen = false;
  for (const item of results.querySelectorAll("li")) {
    const link = item.querySelector("a");
    if (!link || !/(^|\/)glossary\.html(#|$)/.test(link.getAttribute("href") || "")) continue;
    if (seen) item.remove();
    seen = true;
  }
}
document.addEventListener("DOMContentLoaded", () => {
  const results = document.getElementById("search-results");
  if (!results) return;
  new MutationObserver(() => listGlossaryOnce(results)).observe(results, { childList: true, subtree: true });
});
