import { defineAsyncComponent, reactive, type Component } from 'vue';
import { loadSession } from './session';

/**
 * Hash routing (the WeChat messages link to `/h5/#/records`), small enough not to need
 * vue-router: a path, its query, and a lazily loaded page per path.
 */
export interface Route {
  path: string;
  query: Record<string, string>;
}

/** `public`: no session needed (a function: for some queries only). */
const pages: Record<string, { load: () => Promise<Component>; title: string; public?: boolean | ((query: Record<string, string>) => boolean) }> = {
  '/login': { load: () => import('./pages/EntryPage.vue'), title: '来访', public: true },
  '/': { load: () => import('./pages/HomePage.vue'), title: '来访' },
  '/bind': { load: () => import('./pages/BindPage.vue'), title: '绑定手机号' },
  '/apply': { load: () => import('./pages/ApplyPage.vue'), title: '来访申请' },
  '/records': { load: () => import('./pages/RecordsPage.vue'), title: '来访记录' },
  // With `k` (an SMS link's code) the pass opens in any browser: the code is the credential.
  '/pass': { load: () => import('./pages/PassPage.vue'), title: '通行码', public: (q) => Boolean(q.k) },
};

const components = new Map<string, Component>();

export function pageFor(path: string): Component {
  const key = pages[path] ? path : '/';
  let c = components.get(key);
  if (!c) {
    c = defineAsyncComponent(pages[key]!.load);
    components.set(key, c);
  }
  return c;
}

export const route = reactive<Route>(parse());

function parse(): Route {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path = '/', search = ''] = raw.split('?');
  return { path, query: Object.fromEntries(new URLSearchParams(search)) };
}

function guard(): void {
  const next = parse();
  const page = pages[next.path];
  // Every page but the entry needs a session; the entry returns to where the visitor was going.
  // An unknown path (e.g. `#wechat_redirect`, which the OAuth round trip leaves) is the home page.
  const open = typeof page?.public === 'function' ? page.public(next.query) : page?.public;
  if (!open && !loadSession()) {
    const to = page ? next.path + (Object.keys(next.query).length ? `?${new URLSearchParams(next.query).toString()}` : '') : '/';
    navigate('/login', to === '/' ? {} : { to }, true);
    return;
  }
  route.path = page ? next.path : '/';
  route.query = next.query;
  document.title = page?.title ?? '来访';
}

export function navigate(path: string, query: Record<string, string> = {}, replace = false): void {
  const qs = new URLSearchParams(query).toString();
  const hash = `#${path}${qs ? `?${qs}` : ''}`;
  if (replace) history.replaceState(history.state, '', hash);
  else history.pushState(history.state, '', hash);
  guard();
}

export function startRouter(): void {
  window.addEventListener('hashchange', guard);
  window.addEventListener('popstate', guard);
  guard();
}
