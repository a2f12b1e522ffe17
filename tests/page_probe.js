// Everything the website tests check on a page, read once per page and view (width, colour mode)
// by tests/browser.py, which runs it after MathJax has typeset the page. Returns plain data;
// the tests decide what is wrong.
async ({ darkFigures }) => {
  const article = document.querySelector("article.bd-article");
  const shown = (el) => !!el && el.getClientRects().length > 0 &&
    getComputedStyle(el).visibility !== "hidden" && !el.closest("details:not([open]) > :not(summary)");
  const text = (el) => (el ? el.textContent.replace(/\s+/g, " ").trim() : "");
  const px = (value) => parseFloat(value) || 0;
  const describe = (el) => {
    const id = el.id || el.closest("[id]")?.id || "";
    return `${el.tagName.toLowerCase()}${el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).slice(0, 2).join(".") : ""}${id ? " in #" + id : ""}`;
  };
  const report = {
    title: text(document.querySelector("main h1")),
    theme: document.documentElement.dataset.theme || "",
    bodyBackground: getComputedStyle(document.body).backgroundColor,
    viewport: window.innerWidth,
    documentWidth: document.documentElement.scrollWidth,
    scripts: [...document.scripts].map((script) => script.getAttribute("src") || "").filter(Boolean),
  };

  // --- Icons (header buttons, launch and download menus, search, colour mode): the character each
  // draws and its font, whether that font draws it (ink, and not the same pixels as the fallback
  // fonts draw for the character: a font that lacks an icon leaves a blank or a box), and its width.
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 64;
  const pen = canvas.getContext("2d", { willReadFrequently: true });
  const pixels = (font, character) => {
    pen.clearRect(0, 0, 64, 64);
    pen.font = font;
    pen.textBaseline = "middle";
    pen.fillText(character, 8, 32);
    return pen.getImageData(0, 0, 64, 64).data;
  };
  report.icons = [];
  for (const icon of document.querySelectorAll("i[class*='fa-'], span[class*='fa-']")) {
    const style = getComputedStyle(icon, "::before");
    const character = /^".+"$/.test(style.content) ? style.content.slice(1, -1) : "";
    const entry = { classes: icon.className.trim().replace(/\s+/g, " "), family: style.fontFamily,
                    code: character ? character.codePointAt(0).toString(16) : null, shown: shown(icon),
                    width: icon.getBoundingClientRect().width, ink: false, sameAsFallback: false };
    if (character) {
      const font = `${style.fontStyle} ${style.fontWeight} 40px ${style.fontFamily}`;
      await document.fonts.load(font, character);
      const drawn = pixels(font, character);
      const fallback = pixels(`${style.fontStyle} ${style.fontWeight} 40px sans-serif`, character);
      entry.ink = drawn.some((value, i) => i % 4 === 3 && value > 0);
      entry.sameAsFallback = drawn.every((value, i) => value === fallback[i]);
    }
    report.icons.push(entry);
  }
  // Every file the page has loaded so far (icon fonts included), with its size.
  report.resources = performance.getEntriesByType("resource").map((entry) => ({
    url: entry.name, kind: entry.initiatorType, bytes: entry.encodedBodySize }));

  if (!article) return report;

  // --- Width: anything wider than its box must scroll inside a box of its own that fits the screen.
  report.overflow = [];
  const wide = article.querySelectorAll("mjx-math, table, img, pre, h1, h2, h3, p, figure, .admonition, .cell_output .output");
  for (const el of wide) {
    if (!shown(el) || el.closest("mjx-assistive-mml")) continue;
    const box = el.getBoundingClientRect();
    let scroller = null;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const overflow = getComputedStyle(a).overflowX;
      if (overflow !== "visible") { scroller = [a, overflow]; break; }
    }
    if (scroller && ["auto", "scroll"].includes(scroller[1])) {
      const outer = scroller[0].getBoundingClientRect();
      if (outer.right > window.innerWidth + 1) report.overflow.push(`${describe(scroller[0])} (a scrolling box) is ${Math.round(outer.right)} px wide`);
    } else if (scroller && box.right > scroller[0].getBoundingClientRect().right + 1) {
      report.overflow.push(`${describe(el)} is clipped by ${describe(scroller[0])}: ${Math.round(box.width)} px in ${Math.round(scroller[0].getBoundingClientRect().width)} px`);
    } else if (!scroller && box.right > window.innerWidth + 1) {
      report.overflow.push(`${describe(el)} reaches ${Math.round(box.right)} px`);
    }
  }
  report.tables = [...article.querySelectorAll("table")].map((table) => {
    const head = table.querySelector("thead");
    let scroller = table.parentElement;
    while (scroller && scroller !== article && !["auto", "scroll"].includes(getComputedStyle(scroller).overflowX)) scroller = scroller.parentElement;
    const outer = (scroller && scroller !== article ? scroller : article).getBoundingClientRect();
    const headBox = head && shown(table) ? head.getBoundingClientRect() : null;
    return {
      shown: shown(table),
      cells: [...table.querySelectorAll("td, tbody th")].map(text),
      header: head ? text(head) : "",
      headerVisible: !head || !shown(table) || (shown(head) && headBox.top >= outer.top - 1 && headBox.left < outer.right),
    };
  });

  // A box whose scrollbar is always shown: book.css styles its scrollbar (a styled scrollbar is
  // never an overlay one). Headless Chromium hides every scrollbar, so the rules are what can be read.
  const scrollbarSelectors = [];
  for (const sheet of document.styleSheets) {
    let rules = [];
    try { rules = [...sheet.cssRules]; } catch (error) { continue; }
    for (const rule of rules) {
      if (!rule.selectorText || !rule.selectorText.includes("::-webkit-scrollbar-thumb")) continue;
      if (!/background/.test(rule.style.cssText)) continue;
      for (const selector of rule.selectorText.split(",")) {
        if (selector.trim().endsWith("::-webkit-scrollbar-thumb")) scrollbarSelectors.push(selector.trim().replace(/::-webkit-scrollbar-thumb$/, ""));
      }
    }
  }
  const showsScrollbar = (el) => scrollbarSelectors.some((selector) => { try { return el.matches(selector); } catch (error) { return false; } });
  const scrollBox = (el) => {
    for (let a = el; a && a !== article; a = a.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(a).overflowX)) return a;
    }
    return null;
  };
  const contentRight = (el) => el.getBoundingClientRect().right - px(getComputedStyle(el).paddingRight) - px(getComputedStyle(el).borderRightWidth);
  const contentLeft = (el) => el.getBoundingClientRect().left + px(getComputedStyle(el).paddingLeft) + px(getComputedStyle(el).borderLeftWidth);
  // Whether something too wide for its column scrolls in a box of its own that fits the screen
  // and shows its scrollbar.
  const scrollsVisibly = (el) => {
    const box = scrollBox(el);
    return !!box && box.scrollWidth > box.clientWidth + 1 && showsScrollbar(box) &&
      box.getBoundingClientRect().right <= window.innerWidth + 1;
  };

  // --- Formulas: each fits its column, or scrolls in its own box with a visible scrollbar.
  report.formulas = [...article.querySelectorAll("mjx-container")].filter((m) => shown(m) && !m.closest("mjx-assistive-mml")).map((m) => {
    const display = m.getAttribute("display") === "true";
    const column = display ? m.parentElement : (m.closest("td, th, p, li, dd, .admonition, section") || article);
    const math = (m.querySelector("mjx-math") || m).getBoundingClientRect();
    const fits = math.right <= contentRight(column) + 1 && math.left >= contentLeft(column) - 1;
    return { tex: (m.parentElement.textContent || "").trim().slice(0, 80), display, fits,
             width: Math.round(math.width), column: Math.round(contentRight(column) - contentLeft(column)),
             scrolls: !fits && scrollsVisibly(m) };
  });

  // --- Tables: padded, numbers apart, nothing overprinted, headers aligned with their numbers.
  const NUMERIC = /^[−+-]?(\d[\d,]*(\.\d*)?|\.\d+)\s?%?$/;
  const textBox = (cell) => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    const rects = [...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0);
    if (!rects.length) return null;
    return { left: Math.min(...rects.map((r) => r.left)), right: Math.max(...rects.map((r) => r.right)),
             top: Math.min(...rects.map((r) => r.top)), bottom: Math.max(...rects.map((r) => r.bottom)) };
  };
  report.tableLayout = [...article.querySelectorAll("table")].filter(shown).map((table) => {
    const rows = [...table.querySelectorAll("tr")];
    let numericGap = Infinity;
    const overprinted = [], misaligned = [], noValue = [];
    for (const row of rows) {
      const cells = [...row.children].filter(shown);
      for (let i = 0; i + 1 < cells.length; i++) {
        const a = textBox(cells[i]), b = textBox(cells[i + 1]);
        if (!a || !b) continue;
        const gap = b.left - a.right;
        if (NUMERIC.test(text(cells[i])) && NUMERIC.test(text(cells[i + 1]))) numericGap = Math.min(numericGap, gap);
        const sameLine = a.top < b.bottom && b.top < a.bottom;
        if (sameLine && gap < 0) overprinted.push(`${text(cells[i]).slice(0, 30)} | ${text(cells[i + 1]).slice(0, 30)}`);
      }
      for (const cell of cells) if (/^(nan|NaN|None|<NA>)$/.test(text(cell))) noValue.push(text(cell));
    }
    // A column of numbers: its cells and its header share their alignment.
    const body = rows.filter((row) => !row.closest("thead"));
    const head = rows.filter((row) => row.closest("thead"));
    const lastHead = head[head.length - 1];
    if (lastHead && body.length) {
      const headCells = [...lastHead.children];
      const width = Math.min(headCells.length, ...body.map((row) => row.children.length));
      for (let c = 0; c < width; c++) {
        const column = body.map((row) => row.children[c]);
        if (column.some((cell) => cell.colSpan > 1 || cell.tagName === "TH")) continue;
        const texts = column.map(text);
        if (!texts.some((t) => NUMERIC.test(t)) || !texts.every((t) => NUMERIC.test(t) || /^(–|)$/.test(t))) continue;
        const aligns = new Set(column.map((cell) => getComputedStyle(cell).textAlign));
        const headAlign = getComputedStyle(headCells[c]).textAlign;
        if (aligns.size !== 1 || !["right", "end"].includes([...aligns][0]) || !["right", "end"].includes(headAlign)) {
          misaligned.push(`${text(headCells[c]).slice(0, 30)}: header ${headAlign}, numbers ${[...aligns].join("/")}`);
        }
      }
    }
    const box = scrollBox(table);
    return {
      header: text(table.querySelector("thead") || rows[0]).slice(0, 60),
      numericGap: numericGap === Infinity ? null : Math.round(numericGap * 10) / 10,
      overprinted, misaligned, noValue,
      height: Math.round(table.getBoundingClientRect().height), screenHeight: window.innerHeight,
      scrollsInOwnBox: !!box && box.scrollWidth > box.clientWidth + 1 && showsScrollbar(box),
    };
  });

  // --- Code and output lines: none cut off; a line wider than its box scrolls with a visible
  // scrollbar (code on a phone), and output wraps.
  report.cutLines = [];
  for (const pre of article.querySelectorAll(".cell_input pre, .cell_output pre")) {
    if (!shown(pre) || pre.scrollWidth <= pre.clientWidth + 1) continue;
    const kind = pre.closest(".cell_output") ? "output" : "code";
    const longest = pre.textContent.split("\n").reduce((a, b) => (b.length > a.length ? b : a), "");
    report.cutLines.push({ kind, line: longest.slice(0, 100), scrolls: scrollsVisibly(pre), wraps: getComputedStyle(pre).whiteSpace });
  }

  // --- The footer's previous / next links fit the screen and show all they hold.
  report.footerOverflow = [];
  for (const link of document.querySelectorAll(".prev-next-area a")) {
    if (!shown(link)) continue;
    const outer = link.getBoundingClientRect();
    if (link.scrollWidth > link.clientWidth + 1) report.footerOverflow.push(`${describe(link)} holds ${link.scrollWidth} px in ${link.clientWidth} px`);
    if (outer.right > window.innerWidth + 1 || outer.left < -1) report.footerOverflow.push(`${describe(link)} reaches ${Math.round(outer.left)}-${Math.round(outer.right)} px`);
    for (const part of link.querySelectorAll("p, svg, i")) {
      const r = part.getBoundingClientRect();
      if (r.width && (r.right > outer.right + 1 || r.left < outer.left - 1)) report.footerOverflow.push(`${text(part) || part.tagName} sticks out of ${describe(link)}`);
    }
  }

  // --- What the reader sees of the code: visible cells, their outputs, stderr.
  report.visibleCode = [...article.querySelectorAll(".cell_input")].filter(shown).map((cell) => cell.innerText);
  report.visibleOutputs = [...article.querySelectorAll(".cell_output")].filter(shown).map((cell) => cell.innerText);
  report.stderr = [...article.querySelectorAll(".output.stderr")].map((el) => text(el).slice(0, 160));

  // --- Math: every formula typeset, no TeX left in the text, pasted numbers as text or as math.
  const mathItems = new Map();
  if (window.MathJax && MathJax.startup && MathJax.startup.document) {
    for (const item of MathJax.startup.document.math) {
      const root = item.typesetRoot;
      if (root && root.parentElement) mathItems.set(root.parentElement, item.math);
    }
  }
  report.mathSources = article.querySelectorAll(".math").length;
  report.mathTypeset = article.querySelectorAll("mjx-container").length;
  report.mathErrors = article.querySelectorAll("mjx-merror").length;
  const copy = article.cloneNode(true);
  copy.querySelectorAll("pre, code, mjx-container, script, style, .cell_output").forEach((node) => node.remove());
  report.strayTex = [...copy.textContent.matchAll(/.{0,40}(\$|\\\(|\\\)|\\\[|\\\]|\\frac|\\mathcal).{0,40}/g)].map((m) => m[0]);
  const operatorEnd = /(=|<|>|\+|-|\\times|\\cdot|\\pm|\\le|\\ge|\\leq|\\geq|\\approx|\\sim|\(|\^|_|\{)\s*$/;
  const operatorStart = /^\s*(=|<|>|\+|\\times|\\cdot|\\pm|\\le|\\ge|\\approx|\)|\^|_|\\%|\})/;
  const mathNeighbour = (node, forward) => {
    let sibling = forward ? node.nextSibling : node.previousSibling;
    while (sibling && sibling.nodeType === Node.TEXT_NODE && !sibling.textContent.trim()) sibling = forward ? sibling.nextSibling : sibling.previousSibling;
    if (!sibling || sibling.nodeType !== Node.ELEMENT_NODE) return null;
    // book.js groups a formula with the punctuation after it.
    if (sibling.classList.contains("math-with-punctuation")) return sibling.querySelector(".math");
    return sibling.classList.contains("math") ? sibling : null;
  };
  report.pasted = [...article.querySelectorAll(".pasted-text, .pasted-inline")].map((el) => {
    const style = getComputedStyle(el), around = getComputedStyle(el.parentElement);
    const before = mathNeighbour(el, false), after = mathNeighbour(el, true);
    const beforeTex = before ? mathItems.get(before) || text(before) : "";
    const afterTex = after ? mathItems.get(after) || text(after) : "";
    return {
      text: text(el),
      insideMath: !!el.closest(".math, mjx-container"),
      breaksFormula: (!!before && operatorEnd.test(beforeTex)) || (!!after && operatorStart.test(afterTex)),
      context: `${beforeTex ? "$" + beforeTex + "$ " : ""}${text(el)}${afterTex ? " $" + afterTex + "$" : ""}`,
      weight: px(style.fontWeight), family: style.fontFamily, parentFamily: around.fontFamily,
      parentWeight: px(around.fontWeight),
    };
  });

  // --- Figures: natural and displayed size, alt text, caption; in dark mode, opacity.
  report.figures = [...article.querySelectorAll("img")].filter((img) => img.getAttribute("src").includes("_images/")).map((img) => {
    const figure = img.closest("figure");
    const caption = figure ? figure.querySelector("figcaption") : null;
    const figureData = {
      src: img.getAttribute("src"), path: new URL(img.currentSrc || img.src).pathname, alt: img.getAttribute("alt") || "",
      loaded: img.complete && img.naturalWidth > 0, naturalWidth: img.naturalWidth,
      width: img.getBoundingClientRect().width, shown: shown(img),
      id: figure ? figure.id : "", caption: text(caption),
      figureScrolls: figure ? ["auto", "scroll"].includes(getComputedStyle(figure).overflowX) : false,
      figureWidth: figure ? figure.getBoundingClientRect().width : 0,
      fullSizeLink: img.closest("a")?.getAttribute("href") || "",
    };
    if (caption) {
      const style = getComputedStyle(caption.querySelector(".caption-text") || caption);
      let background = "rgba(0, 0, 0, 0)";
      for (let a = caption; a; a = a.parentElement) {
        const colour = getComputedStyle(a).backgroundColor;
        if (!/rgba\(.*, 0\)$/.test(colour) && colour !== "transparent") { background = colour; break; }
      }
      Object.assign(figureData, { captionSize: px(style.fontSize), captionWeight: px(style.fontWeight), captionColour: style.color, captionBackground: background });
    }
    if (darkFigures && figureData.loaded) {
      const canvas = document.createElement("canvas");
      canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
      const g = canvas.getContext("2d"); g.drawImage(img, 0, 0);
      const pixels = g.getImageData(0, 0, canvas.width, canvas.height).data;
      let transparent = false;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] < 255) { transparent = true; break; }
      Object.assign(figureData, { transparent, corner: [pixels[4 * (canvas.width + 1)], pixels[4 * (canvas.width + 1) + 1], pixels[4 * (canvas.width + 1) + 2]], filter: getComputedStyle(img).filter });
    }
    return figureData;
  });

  // --- What frames the page: overview box, exercise box, solutions, buttons, links.
  const section = article.querySelector("section");
  const blocks = section ? [...section.children].filter((el) => !/^H\d$/.test(el.tagName) && !el.matches("span[id], .cell.tag_remove-cell")) : [];
  const overview = article.querySelector(".admonition.page-overview");
  report.overview = overview ? { text: text(overview), position: blocks.indexOf(overview), shown: shown(overview) } : null;
  const howTo = article.querySelector(".admonition.exercise-how-to");
  report.howTo = howTo ? {
    text: text(howTo), position: blocks.indexOf(howTo), shown: shown(howTo),
    links: [...howTo.querySelectorAll("a.exercise-launch")].map((a) => a.getAttribute("href")),
  } : null;
  report.codeSolutions = [...article.querySelectorAll(".tag_solution details")].map((d) => ({
    open: d.open, label: [...d.querySelectorAll(":scope > summary *")].filter(shown).map(text).join(" ") || text(d.querySelector("summary")),
    bodyShown: [...d.children].filter((c) => c.tagName !== "SUMMARY").some(shown),
  }));
  report.writtenSolutions = [...article.querySelectorAll("details.sd-dropdown")].map((d) => ({
    open: d.open, solution: d.classList.contains("solution"),
    label: [...d.querySelectorAll(":scope > summary .sd-summary-text *, :scope > summary .sd-summary-text")].filter((e) => shown(e) && !e.children.length).map(text).join(" "),
    bodyShown: [...d.children].filter((c) => c.tagName !== "SUMMARY").some(shown),
  }));
  report.launch = [...document.querySelectorAll(".dropdown-launch-buttons a")].map((a) => a.getAttribute("href"));
  report.launchButton = !!document.querySelector(".dropdown-launch-buttons .fa-rocket");
  report.edit = [...document.querySelectorAll(".dropdown-source-buttons a")].map((a) => a.getAttribute("href"));
  report.downloads = [...document.querySelectorAll(".dropdown-download-buttons a")].map((a) => a.getAttribute("href"));
  report.references = [...article.querySelectorAll("a.reference.internal")]
    .filter((a) => /#(equation-|fig-)/.test(a.getAttribute("href"))).map((a) => ({ href: a.href, text: text(a) }));
  report.numbers = Object.fromEntries([...article.querySelectorAll("[id]")].map((el) => {
    const label = el.querySelector(":scope .eqno, :scope .caption-number");
    const number = label && label.textContent.match(/\(\d+\)|Fig\. \d+/);
    return [el.id, number ? number[0] : null];
  }).filter(([, number]) => number));
  report.citations = [...article.querySelectorAll("a[href*='bibliography.html#']")].map((a) => ({ href: a.getAttribute("href"), text: text(a) }));

  // --- The page's controls: how many search boxes and sidebar buttons a reader sees.
  const controls = [...document.querySelectorAll(".search-button-field, .search-button__button, form.bd-search input")]
    .filter((el) => !el.closest("dialog") && shown(el) && el.getBoundingClientRect().width > 0);
  report.searchControls = controls.map(describe);
  report.primaryToggles = [...document.querySelectorAll(".primary-toggle")].filter(shown).length;
  report.secondaryToggles = [...document.querySelectorAll(".secondary-toggle")].filter(shown).length;
  report.sidebarShown = shown(document.getElementById("pst-primary-sidebar")) &&
    document.getElementById("pst-primary-sidebar").getBoundingClientRect().right > 0;
  return report;
}
