/** The inspect view: open an image, pick a partition, browse, preview, download a file, compare. */
import type { DiffResult, EntrySummary, ListResult, OpenResult, ReadResult } from '../protocol.js';
import type { WorkerClient } from './client.js';
import { $, el, saveBlob, showError } from './dom.js';
import { asText, bytes, modeString, time } from './text.js';

/** Bytes read for a preview. */
const PREVIEW = 64 * 1024;

interface Current {
  handle: number;
  partition: number | undefined;
  name: string;
  partitions: number[];
}

function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export class InspectView {
  private readonly image = $<HTMLInputElement>('#image');
  private readonly partition = $<HTMLSelectElement>('#partition');
  private readonly info = $<HTMLOutputElement>('#image-info');
  private readonly path = $<HTMLElement>('#path');
  private readonly table = $<HTMLTableElement>('#entries');
  private readonly preview = $<HTMLElement>('#preview');
  private readonly compare = $<HTMLInputElement>('#compare');
  private readonly diffOut = $<HTMLPreElement>('#diff');
  private cur: Current | undefined;
  private previewPath = '';
  private other: number | undefined;

  constructor(private readonly worker: WorkerClient) {
    this.image.addEventListener('change', () => {
      const f = this.image.files?.[0];
      if (f) void this.open(f);
    });
    const drop = $<HTMLElement>('#drop');
    drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      const f = e.dataTransfer?.files[0];
      if (f) void this.open(f);
    });
    this.partition.addEventListener('change', () => {
      if (!this.cur) return;
      this.cur.partition = Number(this.partition.value);
      void this.show('/');
    });
    $<HTMLButtonElement>('#preview-download').addEventListener('click', () => void this.downloadFile());
    this.compare.addEventListener('change', () => {
      const f = this.compare.files?.[0];
      if (f) void this.diff(f);
    });
  }

  private async open(file: File): Promise<void> {
    if (this.cur) void this.worker.call({ op: 'close', handle: this.cur.handle });
    this.cur = undefined;
    this.table.hidden = true;
    this.preview.hidden = true;
    this.diffOut.hidden = true;
    this.path.replaceChildren();
    this.info.className = '';
    this.info.textContent = `opening ${file.name}…`;
    try {
      const r = await this.worker.call<OpenResult>({ op: 'open', file });
      const usable = (r.partitions ?? []).filter((p) => p.fs).map((p) => p.index);
      this.cur = { handle: r.handle, name: file.name, partition: usable[0], partitions: usable };
      this.describe(r, file.name);
      this.compare.disabled = false;
      if (r.partitions && !usable.length) return;
      await this.show('/');
    } catch (e) {
      showError(this.info, e);
    }
  }

  private describe(r: OpenResult, name: string): void {
    const facts = Object.entries(r.info)
      .filter(([k]) => ['label', 'uuid', 'blockSize', 'compression', 'format'].includes(k))
      .map(([k, v]) => `${k} ${v}`);
    this.info.textContent = [`${name}: ${r.kind}, ${bytes(r.size)}`, ...facts, ...r.warnings].join(' · ');
    const field = $<HTMLElement>('#partition-field');
    field.hidden = !r.partitions;
    this.partition.replaceChildren(
      ...(r.partitions ?? []).map((p) =>
        el('option', {
          value: String(p.index),
          disabled: !p.fs,
          textContent: `${p.index}: ${p.fs ?? p.error ?? 'no filesystem'} (${bytes(p.size)})${p.name ? ` ${p.name}` : ''}`,
        }),
      ),
    );
    if (this.cur?.partition !== undefined) this.partition.value = String(this.cur.partition);
  }

  private breadcrumbs(path: string): void {
    const parts = path.split('/').filter(Boolean);
    const crumbs: Node[] = [el('button', { type: 'button', textContent: '/', onclick: () => void this.show('/') })];
    parts.forEach((p, i) => {
      const to = '/' + parts.slice(0, i + 1).join('/');
      crumbs.push(el('button', { type: 'button', textContent: `${p}/`, onclick: () => void this.show(to) }));
    });
    this.path.replaceChildren(...crumbs);
  }

  private row(dir: string, e: EntrySummary): HTMLTableRowElement {
    const path = joinPath(dir, e.name);
    const opens = e.type === 'dir' || e.type === 'file';
    const name = opens
      ? el('button', {
          type: 'button',
          className: 'entry',
          textContent: e.type === 'dir' ? `${e.name}/` : e.name,
          onclick: () => void (e.type === 'dir' ? this.show(path) : this.view(path)),
        })
      : e.name;
    const target = e.target ?? (e.device ? `${e.device[0]}, ${e.device[1]}` : e.links > 1 ? `${e.links} links` : '');
    const cells = [
      el('th', { scope: 'row' }, name),
      el('td', { className: 'mono', textContent: modeString(e.type, e.mode) }),
      el('td', { textContent: `${e.uid}:${e.gid}` }),
      el('td', { className: 'num', textContent: e.type === 'file' ? bytes(e.size) : '' }),
      el('td', { textContent: time(e.mtime) }),
      el('td', { className: 'mono', textContent: target }),
    ];
    const tr = el('tr', {}, ...cells);
    Object.assign(tr.dataset, { path, type: e.type });
    return tr;
  }

  private async show(path: string): Promise<void> {
    if (!this.cur) return;
    try {
      const r = await this.worker.call<ListResult>({
        op: 'list',
        handle: this.cur.handle,
        partition: this.cur.partition,
        path,
      });
      this.breadcrumbs(r.path);
      this.table.tBodies[0]!.replaceChildren(...r.entries.map((e) => this.row(r.path, e)));
      this.table.hidden = false;
      this.table.dataset.path = r.path;
    } catch (e) {
      showError(this.info, e);
    }
  }

  private async view(path: string): Promise<void> {
    if (!this.cur) return;
    const r = await this.worker.call<ReadResult>({
      op: 'read',
      handle: this.cur.handle,
      partition: this.cur.partition,
      path,
      limit: PREVIEW,
    });
    this.previewPath = path;
    $('#preview-title').textContent = `${path} (${bytes(r.size)})`;
    const text = r.bytes ? asText(r.bytes) : undefined;
    $('#preview-text').textContent =
      text === undefined
        ? `binary file, ${r.size} bytes`
        : text + (r.size > PREVIEW ? `\n… (first ${bytes(PREVIEW)} of ${bytes(r.size)})` : '');
    this.preview.hidden = false;
    this.preview.focus();
  }

  private async downloadFile(): Promise<void> {
    if (!this.cur || !this.previewPath) return;
    const r = await this.worker.call<ReadResult>({
      op: 'read',
      handle: this.cur.handle,
      partition: this.cur.partition,
      path: this.previewPath,
    });
    if (r.blob) saveBlob(r.blob, this.previewPath.split('/').pop() || 'file');
  }

  private async diff(file: File): Promise<void> {
    if (!this.cur) return;
    this.diffOut.hidden = false;
    this.diffOut.className = '';
    this.diffOut.textContent = `comparing with ${file.name}…`;
    try {
      if (this.other !== undefined) void this.worker.call({ op: 'close', handle: this.other });
      const o = await this.worker.call<OpenResult>({ op: 'open', file });
      this.other = o.handle;
      // a disk on the other side: the same partition number if it has one, else its first filesystem
      const usable = (o.partitions ?? []).filter((p) => p.fs).map((p) => p.index);
      const part = o.partitions
        ? usable.includes(this.cur.partition ?? -1)
          ? this.cur.partition
          : usable[0]
        : undefined;
      const d = await this.worker.call<DiffResult>({
        op: 'diff',
        a: { handle: this.cur.handle, partition: this.cur.partition },
        b: { handle: o.handle, partition: part },
      });
      const head = `${this.cur.name} → ${file.name}: ${d.added} added, ${d.removed} removed, ${d.changed} changed`;
      this.diffOut.textContent = d.text ? `${head}\n${d.text}` : `${head}: the trees are the same`;
    } catch (e) {
      showError(this.diffOut, e);
    }
  }
}
