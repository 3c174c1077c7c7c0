/** The build view: a tarball or folder, a format, size and label -> an image to download. */
import {
  LABELLED,
  SIZED,
  SUFFIX,
  type BuildResult,
  type BuildSource,
  type Format,
  type ProgressReport,
} from '../protocol.js';
import type { WorkerClient } from './client.js';
import { $, showError } from './dom.js';
import { baseName, bytes, seconds } from './text.js';

/** Label length each format takes (ext: 16 bytes, FAT: 11 characters). */
const LABEL_MAX: Partial<Record<Format, number>> = { ext4: 16, ext2: 16, fat32: 11, erofs: 16, iso9660: 32 };

interface SaveFilePicker {
  showSaveFilePicker(o: { suggestedName: string }): Promise<{ createWritable(): Promise<WritableStream> }>;
}

export class BuildView {
  private readonly source = $<HTMLInputElement>('#source');
  private readonly folder = $<HTMLInputElement>('#folder');
  private readonly format = $<HTMLSelectElement>('#format');
  private readonly size = $<HTMLInputElement>('#size');
  private readonly label = $<HTMLInputElement>('#label');
  private readonly build = $<HTMLButtonElement>('#build');
  private readonly cancel = $<HTMLButtonElement>('#cancel');
  private readonly download = $<HTMLAnchorElement>('#download');
  private readonly save = $<HTMLButtonElement>('#save');
  private readonly progress = $<HTMLProgressElement>('#progress');
  private readonly status = $<HTMLOutputElement>('#status');
  private readonly warnings = $<HTMLUListElement>('#warnings');
  private url: string | undefined;
  private blob: Blob | undefined;

  constructor(private readonly worker: WorkerClient) {
    this.source.addEventListener('change', () => {
      if (this.source.files?.length) this.folder.value = '';
    });
    this.folder.addEventListener('change', () => {
      if (this.folder.files?.length) this.source.value = '';
    });
    this.format.addEventListener('change', () => this.formatChanged());
    $<HTMLFormElement>('#build-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.run();
    });
    this.cancel.addEventListener('click', () => this.worker.restart());
    this.save.addEventListener('click', () => void this.saveToFile());
    this.formatChanged();
  }

  private get chosen(): Format {
    return this.format.value as Format;
  }

  private formatChanged(): void {
    const f = this.chosen;
    this.size.disabled = !SIZED.has(f);
    this.size.placeholder = SIZED.has(f) ? 'smallest that fits' : 'no limit';
    this.label.disabled = !LABELLED.has(f);
    if (this.label.disabled) this.label.value = '';
    this.label.maxLength = LABEL_MAX[f] ?? 16;
  }

  private pickedSource(): BuildSource | undefined {
    const tar = this.source.files?.[0];
    if (tar) return { kind: 'tarball', file: tar };
    const files = [...(this.folder.files ?? [])];
    if (!files.length) return undefined;
    const path = (f: File) => f.webkitRelativePath || f.name;
    return {
      kind: 'folder',
      name: path(files[0]!).split('/')[0]!,
      files: files.map((f) => ({ path: path(f), file: f })),
    };
  }

  private reset(): void {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = undefined;
    this.blob = undefined;
    this.download.removeAttribute('href');
    this.download.setAttribute('aria-disabled', 'true');
    this.download.textContent = 'Download';
    this.save.hidden = true;
    this.warnings.replaceChildren();
    this.status.className = '';
    this.progress.value = 0;
    this.progress.max = 1;
  }

  private onProgress(p: ProgressReport): void {
    if (p.total) {
      this.progress.max = p.total;
      this.progress.value = Math.min(p.done, p.total);
    } else this.progress.removeAttribute('value');
    const rate = p.elapsed > 0 && p.unit === 'bytes' ? ` · ${bytes((p.done * 1000) / p.elapsed)}/s` : '';
    const amount = p.unit === 'bytes' ? `${bytes(p.done)}${p.total ? ` of ${bytes(p.total)}` : ''}` : `${p.done}`;
    const entries = p.entries !== undefined ? ` · ${p.entries} entries` : '';
    this.status.textContent = `${p.phase}: ${amount}${entries}${rate}`;
  }

  private async run(): Promise<void> {
    const source = this.pickedSource();
    this.reset();
    if (!source) {
      showError(this.status, 'Pick a tarball or a folder first.');
      this.source.focus();
      return;
    }
    const format = this.chosen;
    const name = (source.kind === 'tarball' ? baseName(source.file.name) : source.name) + SUFFIX[format];
    this.build.disabled = true;
    this.cancel.hidden = false;
    try {
      const req = { op: 'build' as const, source, format, size: this.size.value, label: this.label.value };
      const r = await this.worker.call<BuildResult>(req, (p) => this.onProgress(p));
      this.ready(r, name);
    } catch (e) {
      showError(this.status, e);
    } finally {
      this.build.disabled = false;
      this.cancel.hidden = true;
    }
  }

  private ready(r: BuildResult, name: string): void {
    this.blob = r.blob;
    this.url = URL.createObjectURL(r.blob);
    this.download.href = this.url;
    this.download.download = name;
    this.download.removeAttribute('aria-disabled');
    this.download.textContent = `Download ${name} (${bytes(r.bytes)})`;
    Object.assign(this.download.dataset, {
      bytes: r.bytes,
      held: r.held,
      readMs: r.readMs.toFixed(0),
      writeMs: r.writeMs.toFixed(0),
    });
    this.progress.max = 1;
    this.progress.value = 1;
    this.status.textContent =
      `${name}: ${bytes(r.bytes)}, ${r.entries} entries (${bytes(r.contentBytes)} of contents); ` +
      `source read in ${seconds(r.readMs)}, image written in ${seconds(r.writeMs)}`;
    for (const w of r.warnings.slice(0, 50))
      this.warnings.append(Object.assign(document.createElement('li'), { textContent: w }));
    if (r.warnings.length > 50)
      this.warnings.append(
        Object.assign(document.createElement('li'), { textContent: `… and ${r.warnings.length - 50} more` }),
      );
    this.save.hidden = !('showSaveFilePicker' in window);
  }

  /** The File System Access API, where the browser has it: the image streams to a file of the user's choice. */
  private async saveToFile(): Promise<void> {
    if (!this.blob) return;
    try {
      const handle = await (window as unknown as SaveFilePicker).showSaveFilePicker({
        suggestedName: this.download.download,
      });
      await this.blob.stream().pipeTo(await handle.createWritable());
      this.status.textContent = `saved ${this.download.download}`;
    } catch (e) {
      if ((e as Error).name !== 'AbortError') showError(this.status, e);
    }
  }
}
