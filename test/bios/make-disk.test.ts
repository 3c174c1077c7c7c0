/** Not a test: builds the bios disk at $BIOS_DISK_OUT for manual boots (skipped unless set). */
import { it } from 'vitest';
import { buildHostBiosDisk } from './disk.js';

const out = process.env.BIOS_DISK_OUT;
it.skipIf(!out)(
  'builds the bios disk at $BIOS_DISK_OUT',
  async () => {
    const d = await buildHostBiosDisk(out!);
    console.log(JSON.stringify({ ...d.result, ext4: undefined, grub: d.result.grub }, null, 1));
  },
  900_000,
);
