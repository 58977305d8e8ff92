import type { Page } from 'playwright-core';

/**
 * What a phone screen gets wrong, read from the element boxes under `selector` (not from the
 * text): a box past the screen's edge; content cut by its box (an input too narrow for its
 * value, a clipped block); text squeezed into a column of one or two characters a line; and a
 * date, a time or a phone number split over two lines. An empty list when the layout holds.
 * The inactive panels of swipeable tabs, beside the screen by design, are left out.
 */
export async function layoutProblems(page: Page, selector: string): Promise<string[]> {
  return page.evaluate((sel) => {
    const problems: string[] = [];
    const width = document.documentElement.clientWidth;
    const name = (el: Element) =>
      `${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''}`;
    // A swipeable tab bar lays its inactive panels beside the screen, by design: not shown, not checked.
    const offstage = (el: Element) => el.closest('.van-tab__panel-wrapper--inactive') !== null || el.matches('.van-swipe, .van-swipe__track');
    const visible = (el: Element) => {
      if (offstage(el)) return false;
      const cs = getComputedStyle(el);
      const r = el.getBoundingClientRect();
      return cs.display !== 'none' && cs.visibility !== 'hidden' && r.width > 0 && r.height > 0;
    };
    const TOKENS = /\d{4}-\d{2}-\d{2}|\d{2}:\d{2}|1\d{2}\*{4}\d{4}|\+?\d[\d -]{9,}\d/g;
    for (const root of document.querySelectorAll(sel)) {
      for (const el of [root, ...root.querySelectorAll('*')]) {
        if (!visible(el)) continue;
        const r = el.getBoundingClientRect();
        if (r.left < -0.5 || r.right > width + 0.5) problems.push(`past the edge: ${name(el)} ${Math.round(r.left)}–${Math.round(r.right)} of ${width}`);
        const cs = getComputedStyle(el);
        const clips = el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || cs.overflowX !== 'visible';
        if (clips && cs.textOverflow !== 'ellipsis' && el.scrollWidth > el.clientWidth + 1) {
          const value = el instanceof HTMLInputElement ? ` "${el.value}"` : '';
          problems.push(`cut: ${name(el)}${value} ${el.scrollWidth} > ${el.clientWidth}`);
        }
      }
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode() as Text | null; node; node = walker.nextNode() as Text | null) {
        if (!node.parentElement || !visible(node.parentElement) || node.data.trim().length < 3) continue;
        const range = document.createRange();
        const topOf = (i: number) => {
          range.setStart(node!, i);
          range.setEnd(node!, i + 1);
          const rect = range.getClientRects()[0];
          return rect ? Math.round(rect.top) : null;
        };
        const perLine = new Map<number, number>();
        for (let i = 0; i < node.data.length; i++) {
          const top = /\s/.test(node.data[i]!) ? null : topOf(i);
          if (top !== null) perLine.set(top, (perLine.get(top) ?? 0) + 1);
        }
        if (perLine.size >= 2 && Math.max(...perLine.values()) <= 2) problems.push(`one-character lines: "${node.data.trim()}" in ${name(node.parentElement)}`);
        for (const m of node.data.matchAll(TOKENS)) {
          const tops = new Set(Array.from({ length: m[0].length }, (_, k) => topOf(m.index + k)).filter((t) => t !== null));
          if (tops.size > 1) problems.push(`split over lines: "${m[0]}" in ${name(node.parentElement)}`);
        }
      }
    }
    return problems;
  }, selector);
}
