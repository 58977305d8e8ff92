import type { Page } from 'playwright-core';

/** The two sizes the console promises: a laptop and a portrait tablet. */
export const SIZES = [
  { width: 1280, height: 800 },
  { width: 768, height: 1024 },
] as const;

/**
 * What is wrong with the page's layout, from the element boxes: the page scrolling sideways,
 * a visible element cut off at the right edge (outside a container that scrolls it, such as a
 * table body), and a short label (a button, a tag, a column title, a form label, a link) whose
 * text breaks onto a second line ("已授/权", "删/除").
 */
export function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > width + 1) problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
    const clippedByScroller = (el: Element) => {
      for (let p = el.parentElement; p; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX;
        if ((o === 'auto' || o === 'scroll' || o === 'hidden' || o === 'clip') && p.getBoundingClientRect().right <= width + 1) return true;
      }
      return false;
    };
    const name = (el: Element) => `<${el.tagName.toLowerCase()} class="${el.getAttribute('class') ?? ''}"> "${(el.textContent ?? '').trim().slice(0, 30)}"`;
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      if (r.right > width + 1 && !clippedByScroller(el)) problems.push(`cut off at the right (${Math.round(r.right)} > ${width}): ${name(el)}`);
    }
    const LABELS = 'button, a, .el-tag, th .cell, .el-form-item__label, .el-descriptions__label, .el-pagination__total, .el-table__body td .cell';
    for (const el of document.querySelectorAll(LABELS)) {
      const text = (el.textContent ?? '').trim();
      if (text.length < 2 || text.length > 12 || el.getBoundingClientRect().width === 0) continue;
      // The lines its text fragments sit on (fragments of one line differ by a pixel or two).
      const tops: number[] = [];
      const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const range = document.createRange();
        range.selectNodeContents(n);
        for (const r of range.getClientRects()) if (r.width > 0) tops.push(r.top);
      }
      tops.sort((a, b) => a - b);
      const lines = tops.filter((t, i) => i === 0 || t - tops[i - 1]! > 8).length;
      if (lines > 1) problems.push(`label wraps onto ${lines} lines: ${name(el)}`);
    }
    return [...new Set(problems)].slice(0, 20);
  });
}
