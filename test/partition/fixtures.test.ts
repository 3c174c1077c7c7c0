/** Golden tables made by sfdisk and sgdisk (fixtures/partition/make.sh): our reader agrees with the tools' JSON. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MemoryDevice } from '../../src/core/io/device.js';
import { readPartitionTable } from '../../src/core/partition/index.js';
import { REPO } from '../helpers/prereq.js';

const dir = join(REPO, 'fixtures/partition');
const load = (name: string) => ({
  dev: new MemoryDevice(new Uint8Array(gunzipSync(readFileSync(join(dir, `${name}.img.gz`))))),
  json: JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')).partitiontable,
});
const num = (node: string) => Number(/(\d+)$/.exec(node)![1]);

describe('golden partition tables', () => {
  it('sfdisk dos table with logical partitions', () => {
    const { dev, json } = load('sfdisk-dos');
    const t = readPartitionTable(dev)!;
    expect(t.scheme).toBe('mbr');
    expect(`0x${t.diskId}`).toBe(json.id);
    const theirs = json.partitions.filter((p: { type: string }) => p.type !== '5');
    expect(
      t.partitions.map((p) => ({
        n: p.index,
        start: p.offset / 512,
        size: p.size / 512,
        type: p.type.replace(/^0x0?/, ''),
        bootable: !!p.bootable,
      })),
    ).toEqual(
      theirs.map((p: { node: string; start: number; size: number; type: string; bootable?: boolean }) => ({
        n: num(p.node),
        start: p.start,
        size: p.size,
        type: p.type,
        bootable: !!p.bootable,
      })),
    );
    expect(t.partitions.map((p) => p.partuuid)).toEqual([
      '5eed1234-01',
      '5eed1234-02',
      '5eed1234-05',
      '5eed1234-06',
      '5eed1234-07',
    ]);
    expect(t.warnings).toBeUndefined();
  });

  it('sgdisk GPT with names, attributes and given GUIDs', () => {
    const { dev, json } = load('sgdisk-gpt');
    const t = readPartitionTable(dev)!;
    expect(t.scheme).toBe('gpt');
    expect(t.diskId).toBe(json.id.toLowerCase());
    expect(t.firstUsableLba).toBe(json.firstlba);
    expect(t.lastUsableLba).toBe(json.lastlba);
    expect(
      t.partitions.map((p) => ({
        n: p.index,
        start: p.offset / 512,
        size: p.size / 512,
        type: p.type,
        uuid: p.partuuid,
        name: p.name,
      })),
    ).toEqual(
      json.partitions.map(
        (p: { node: string; start: number; size: number; type: string; uuid: string; name: string }) => ({
          n: num(p.node),
          start: p.start,
          size: p.size,
          type: p.type.toLowerCase(),
          uuid: p.uuid.toLowerCase(),
          name: p.name,
        }),
      ),
    );
    expect(t.partitions[2]!.attributes).toBe((1n << 60n) | (1n << 2n));
    expect(t.partitions[2]!.bootable).toBe(true);
    expect(t.warnings).toBeUndefined();
  });
});
