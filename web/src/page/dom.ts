/** Small DOM helpers shared by the views. */
import { RemoteError } from './client.js';

export function $<T extends Element>(selector: string): T {
  const el = document.querySelector<T>(selector);
  if (!el) throw new Error(`the page has no ${selector}`);
  return el;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/** Show an error where a status goes: the worker's code (E_...) first, then its message. */
export function showError(target: HTMLElement, e: unknown): void {
  const message =
    e instanceof RemoteError && e.code ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
  target.textContent = message;
  target.className = 'error';
}

/** Save a Blob under `name` through a temporary link (the browser's download). */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
