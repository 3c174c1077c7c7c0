/** The ISO 9660 / El Torito / SUSP / RRIP tables, their sizes and the offsets the specifications give. */
import { describe, expect, test } from 'vitest';
import { layoutProblems } from '../../src/core/binary/struct.js';
import {
  ALL_STRUCTS,
  BOOT_ENTRY,
  BOOT_INFO_TABLE,
  BOOT_RECORD,
  DIR_RECORD,
  PATH_RECORD_BE,
  PATH_RECORD_LE,
  RECORD_DATE,
  RR_FLAGGED,
  RR_LINK,
  RR_PN,
  RR_PX,
  SECTION_HEADER,
  SL_COMPONENT,
  SUSP_CE,
  SUSP_ER,
  SUSP_HEADER,
  SUSP_SP,
  VALIDATION_ENTRY,
  VOLUME_DATE,
  VOLUME_DESCRIPTOR,
} from '../../src/core/fs/iso9660/structs.js';
import {
  decodeRecordDate,
  decodeVolumeDate,
  encodeRecordDate,
  encodeVolumeDate,
} from '../../src/core/fs/iso9660/dates.js';
import { compareIdentifiers, IsoNamer, JolietNamer, sortIsoIdentifiers } from '../../src/core/fs/iso9660/names.js';
import fc from 'fast-check';
import { nmEntries, slEntries } from '../../src/core/fs/iso9660/susp.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { readRockRidge } from '../../src/core/fs/iso9660/readsusp.js';

describe('ISO 9660 struct tables', () => {
  const sizes = new Map<unknown, number>([
    [DIR_RECORD, 33],
    [VOLUME_DESCRIPTOR, 2048],
    [PATH_RECORD_LE, 8],
    [PATH_RECORD_BE, 8],
    [RECORD_DATE, 7],
    [VOLUME_DATE, 17],
    [BOOT_RECORD, 2048],
    [VALIDATION_ENTRY, 32],
    [BOOT_ENTRY, 32],
    [SECTION_HEADER, 32],
    [BOOT_INFO_TABLE, 56],
    [SUSP_HEADER, 4],
    [SUSP_SP, 7],
    [SUSP_CE, 28],
    [SUSP_ER, 8],
    [RR_PX, 44],
    [RR_PN, 20],
    [RR_FLAGGED, 5],
    [SL_COMPONENT, 2],
    [RR_LINK, 12],
  ]);
  test.each(ALL_STRUCTS.map((s) => [s.name, s] as const))('%s has a sound layout and its size', (_, s) => {
    expect(layoutProblems(s)).toEqual([]);
    expect(s.size).toBe(sizes.get(s));
  });

  test('offsets from ECMA-119, El Torito and RRIP', () => {
    expect(DIR_RECORD.offsetOf('extentLe')).toBe(2);
    expect(DIR_RECORD.offsetOf('dataLengthBe')).toBe(14);
    expect(DIR_RECORD.offsetOf('date')).toBe(18);
    expect(DIR_RECORD.offsetOf('flags')).toBe(25);
    expect(DIR_RECORD.offsetOf('nameLength')).toBe(32);
    expect(VOLUME_DESCRIPTOR.offsetOf('volumeSpaceSizeLe')).toBe(80);
    expect(VOLUME_DESCRIPTOR.offsetOf('escapes')).toBe(88);
    expect(VOLUME_DESCRIPTOR.offsetOf('blockSizeLe')).toBe(128);
    expect(VOLUME_DESCRIPTOR.offsetOf('lPathTable')).toBe(140);
    expect(VOLUME_DESCRIPTOR.offsetOf('mPathTable')).toBe(148);
    expect(VOLUME_DESCRIPTOR.offsetOf('rootRecord')).toBe(156);
    expect(VOLUME_DESCRIPTOR.offsetOf('created')).toBe(813);
    expect(VOLUME_DESCRIPTOR.offsetOf('fileStructureVersion')).toBe(881);
    expect(VOLUME_DESCRIPTOR.offsetOf('applicationUse')).toBe(883);
    expect(BOOT_RECORD.offsetOf('catalog')).toBe(0x47);
    expect(BOOT_ENTRY.offsetOf('sectorCount')).toBe(6);
    expect(BOOT_ENTRY.offsetOf('loadRba')).toBe(8);
    expect(VALIDATION_ENTRY.offsetOf('checksum')).toBe(28);
    expect(RR_PX.offsetOf('serialLe')).toBe(36);
    expect(SUSP_CE.offsetOf('sizeLe')).toBe(20);
  });
});

describe('dates', () => {
  test('7-byte dates round-trip whole seconds from 1900 to 2155, clamping outside', () => {
    const b = new Uint8Array(7);
    for (const s of [0, 1_700_000_000, -2_208_988_800, 5_000_000_000, -86_400]) {
      encodeRecordDate(s, b, 0);
      expect(decodeRecordDate(b, 0)).toBe(s);
    }
    encodeRecordDate(-1e12, b, 0);
    expect(decodeRecordDate(b, 0)).toBe(Date.UTC(1900, 0, 1) / 1000);
    encodeRecordDate(1e12, b, 0);
    expect(decodeRecordDate(b, 0)).toBe(Date.UTC(2155, 11, 31, 23, 59, 59) / 1000);
    // a GMT offset of +1 hour (4 quarters) means the fields are local time one hour ahead
    encodeRecordDate(3600, b, 0);
    b[6] = 4;
    expect(decodeRecordDate(b, 0)).toBe(0);
    b[1] = 13;
    expect(decodeRecordDate(b, 0)).toBeUndefined();
  });

  test('17-byte volume dates', () => {
    const d = encodeVolumeDate(1_700_000_000);
    expect(String.fromCharCode(...d.subarray(0, 16))).toBe('2023111422132000');
    expect(decodeVolumeDate(d)).toBe(1_700_000_000);
    expect(decodeVolumeDate(new Uint8Array(17).fill(0x30))).toBeUndefined();
  });
});

describe('names', () => {
  test('level 1: 8.3 d-characters, unique', () => {
    const n = new IsoNamer(1);
    expect(n.name('README.md', false)).toBe('README.MD;1');
    expect(n.name('readme.md', false)).toBe('README1.MD;1');
    expect(n.name('a very long name.tar.gz', false)).toBe('A_VERY_L.GZ;1');
    expect(n.name('Makefile', false)).toBe('MAKEFILE.;1');
    expect(n.name('lib64', true)).toBe('LIB64');
    expect(n.name('.bashrc', false)).toBe('_BASHRC.;1');
  });

  test('levels 2 and 3: 30 characters for files, 31 for directories', () => {
    const n = new IsoNamer(3);
    const f = n.name('x'.repeat(40) + '.config', false);
    expect(f).toBe('X'.repeat(23) + '.CONFIG;1');
    expect(n.name('d'.repeat(40), true)).toBe('D'.repeat(31));
    expect(n.name('d'.repeat(40), true)).toBe('D'.repeat(30) + '1');
  });

  test('Joliet: UCS-2, forbidden characters replaced, 64 or 103 characters', () => {
    const j = new JolietNamer(64);
    expect(j.name('ünïcödé: a*b?.txt', false)).toBe('ünïcödé_ a_b_.txt;1');
    expect(j.name('😀', false)).toBe('_;1');
    expect(j.name('y'.repeat(100) + '.txt', false)).toBe('y'.repeat(60) + '.txt;1');
    expect(new JolietNamer(103).name('z'.repeat(120), true)).toBe('z'.repeat(103));
  });

  test('record order: name, then extension, then version', () => {
    // a shorter name is padded with spaces, which sort before every d-character
    const ids = ['B.;1', 'A.TXT;1', 'A_B.;1', 'A.;1', 'AB', 'A.TXT;2'];
    expect([...ids].sort(compareIdentifiers)).toEqual(['A.;1', 'A.TXT;2', 'A.TXT;1', 'AB', 'A_B.;1', 'B.;1']);
  });
});

test('the fast sort of ECMA-119 identifiers is the padded order', () => {
  const dchar = fc.constantFrom(...'AB09_Z'.split(''));
  const id = fc.oneof(
    fc.string({ unit: dchar, minLength: 1, maxLength: 8 }),
    fc
      .tuple(fc.string({ unit: dchar, maxLength: 8 }), fc.string({ unit: dchar, maxLength: 3 }))
      .filter(([n, e]) => n.length + e.length > 0)
      .map(([n, e]) => `${n}.${e};1`),
  );
  fc.assert(
    // unique as the namer keeps them: a directory A and a file A. never share a directory
    fc.property(
      fc.uniqueArray(id, { maxLength: 30, selector: (x) => x.replace(/;1$/, '').replace(/\.$/, '') }),
      (ids) => {
        expect(sortIsoIdentifiers([...ids], (x) => x)).toEqual([...ids].sort(compareIdentifiers));
      },
    ),
  );
});

describe('Rock Ridge entries', () => {
  const rr = (entries: Uint8Array[]) => {
    const su = new Uint8Array(entries.reduce((n, e) => n + e.length, 0));
    let o = 0;
    for (const e of entries) {
      su.set(e, o);
      o += e.length;
    }
    return readRockRidge(new MemoryDevice(2048), su, 0, '/x');
  };

  test.each([
    '/',
    '/a/b',
    'a',
    '../x/./y',
    'a//b',
    'a/',
    '/' + 'long'.repeat(100),
    'x'.repeat(600) + '/y',
    'é/日本/😀',
  ])('SL round-trips %j', (target) => {
    const entries = slEntries(target);
    for (const e of entries) expect(e.length).toBeLessThanOrEqual(255);
    expect(rr(entries).target).toBe(target);
  });

  test('NM splits long names', () => {
    const name = 'é'.repeat(127);
    const entries = nmEntries(name);
    expect(entries.length).toBe(2);
    expect(rr(entries).name).toBe(name);
  });
});
