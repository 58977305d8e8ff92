import { ref } from 'vue';

/** One confirmation at a time, shown by AdminApp as a modal; resolves true on 确认. */
export const pending = ref<{ title: string; message: string; danger: boolean; resolve: (ok: boolean) => void } | null>(null);

export function confirmAction(title: string, message: string, danger = true): Promise<boolean> {
  return new Promise((resolve) => {
    pending.value = {
      title,
      message,
      danger,
      resolve: (ok) => {
        pending.value = null;
        resolve(ok);
      },
    };
  });
}
