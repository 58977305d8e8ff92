import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import vue from '@vitejs/plugin-vue';

/** Vant functions whose styles live under another component's folder. */
const VANT_FUNCTION_STYLES: Record<string, string> = {
  showToast: 'toast',
  showLoadingToast: 'toast',
  showSuccessToast: 'toast',
  showFailToast: 'toast',
  closeToast: 'toast',
  showDialog: 'dialog',
  showConfirmDialog: 'dialog',
  closeDialog: 'dialog',
  showNotify: 'notify',
  closeNotify: 'notify',
  showImagePreview: 'image-preview',
};

/**
 * Vant on demand without another dependency: each `import { Button } from 'vant'` also imports
 * that component's CSS, so a lazily loaded page brings only the styles it uses (the JS is
 * tree-shaken by the bundler already).
 */
function vantStyles(): Plugin {
  const kebab = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  return {
    name: 'laifang-vant-styles',
    enforce: 'post',
    transform(code, id) {
      if (id.includes('node_modules') || !/\.(vue|ts)$/.test(id.split('?')[0] ?? '')) return null;
      const styles = new Set<string>();
      for (const m of code.matchAll(/import\s*\{([^}]+)\}\s*from\s*['"]vant['"]/g)) {
        for (const raw of (m[1] ?? '').split(',')) {
          const name =
            raw
              .trim()
              .replace(/^type\s+/, '')
              .split(/\s+as\s+/)[0]
              ?.trim() ?? '';
          if (!name || raw.trim().startsWith('type ')) continue;
          const folder = VANT_FUNCTION_STYLES[name] ?? (/^[A-Z]/.test(name) ? kebab(name) : null);
          if (folder) styles.add(`import 'vant/es/${folder}/style/index.mjs';`);
        }
      }
      return styles.size ? { code: `${[...styles].join('\n')}\n${code}`, map: null } : null;
    },
  };
}

/** Element Plus functions and directives whose styles live under a component folder. */
const ELEMENT_FUNCTION_STYLES: Record<string, string> = {
  ElMessage: 'message',
  ElMessageBox: 'message-box',
  ElLoading: 'loading',
  vLoading: 'loading',
  ElNotification: 'notification',
};

/**
 * Element Plus on demand, the same way: each `import { ElTable } from 'element-plus'` in the
 * console also imports that component's CSS (which imports the base variables and the styles
 * of the components it is built from), so each lazily loaded page brings what it uses.
 */
function elementPlusStyles(): Plugin {
  const kebab = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  return {
    name: 'laifang-element-plus-styles',
    enforce: 'post',
    transform(code, id) {
      if (id.includes('node_modules') || !/\.(vue|ts)$/.test(id.split('?')[0] ?? '')) return null;
      const styles = new Set<string>();
      for (const m of code.matchAll(/import\s*\{([^}]+)\}\s*from\s*['"]element-plus['"]/g)) {
        for (const raw of (m[1] ?? '').split(',')) {
          const name =
            raw
              .trim()
              .split(/\s+as\s+/)[0]
              ?.trim() ?? '';
          if (!name || raw.trim().startsWith('type ')) continue;
          const folder = ELEMENT_FUNCTION_STYLES[name] ?? (/^El[A-Z]/.test(name) ? kebab(name.slice(2)) : null);
          if (folder) styles.add(`import 'element-plus/es/components/${folder}/style/css';`);
        }
      }
      return styles.size ? { code: `${[...styles].join('\n')}\n${code}`, map: null } : null;
    },
  };
}

/**
 * Vant's icon font is inlined (a woff2 data URL) with a fallback on Alibaba's CDN: drop the
 * fallback, so the pages fetch nothing from outside (intranets; CSP font-src).
 */
function vantIconFontOffline(): Plugin {
  return {
    name: 'laifang-vant-icon-font',
    enforce: 'pre',
    transform(code, id) {
      if (!/vant[\\/]es[\\/]icon[\\/]index\.css/.test(id)) return null;
      return { code: code.replace(/,\s*url\(\/\/at\.alicdn\.com[^)]*\)\s*format\("woff"\)/g, ''), map: null };
    },
  };
}

/**
 * Two builds from one source tree: the H5 pages (the default, /h5/ → dist/) and, with
 * `--mode admin`, the admin console (admin.html → dist/admin/, served at /admin/). Separate
 * builds share no chunk, so the console never changes what the phone's first page loads.
 */
export default defineConfig(({ mode }) => {
  const admin = mode === 'admin';
  return {
    root: fileURLToPath(new URL('.', import.meta.url)),
    base: admin ? '/admin/' : '/h5/',
    plugins: [vue(), ...(admin ? [elementPlusStyles()] : [vantStyles(), vantIconFontOffline()])],
    build: {
      outDir: admin ? 'dist/admin' : 'dist',
      emptyOutDir: true,
      // Measured by test/e2e/h5.test.ts (≤ 150 kB gzipped JS for the first page).
      chunkSizeWarningLimit: 400,
      // Rolldown's timing report is noise on a loaded two-core machine.
      rolldownOptions: {
        checks: { bundlerTimings: false },
        ...(admin ? { input: fileURLToPath(new URL('admin.html', import.meta.url)) } : {}),
      },
    },
    server: {
      // `npx vite web` for page work: the API of a running `npm start` (the console: /h5/admin.html).
      proxy: { '/v1': 'http://127.0.0.1:3000', '/files': 'http://127.0.0.1:3000' },
    },
  };
});
