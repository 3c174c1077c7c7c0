/**
 * Boot code for a non-bootable FAT volume: a few bytes of 16-bit real-mode
 * x86 that print a message through the BIOS (int 10h, AH=0Eh teletype),
 * wait for a key (int 16h), then ask the BIOS to try the next boot device
 * (int 19h). Hand-assembled here; offsets below are within the code.
 */
export const NOT_BOOTABLE_MESSAGE =
  'This is not a bootable disk.  Please insert a bootable floppy and\r\npress any key to try again ... \r\n';

/**
 * Machine code placed at `codeOffset` in the boot sector (62 for FAT12/16,
 * 90 for FAT32); the BIOS loads the sector at linear address 0x7C00.
 */
export function bootCode(codeOffset: number, message = NOT_BOOTABLE_MESSAGE): Uint8Array {
  const CODE_LEN = 30;
  const msg = new TextEncoder().encode(message);
  const room = 510 - codeOffset - CODE_LEN - 1;
  const text = msg.subarray(0, Math.max(0, room));
  const msgAddr = 0x7c00 + codeOffset + CODE_LEN;
  const code = [
    0x31,
    0xc0, // 0:  xor ax, ax
    0x8e,
    0xd8, // 2:  mov ds, ax
    0xbe,
    msgAddr & 0xff,
    msgAddr >> 8, // 4: mov si, msg
    0xfc, // 7:  cld
    0xac, // 8:  .next: lodsb
    0x84,
    0xc0, // 9:  test al, al
    0x74,
    22 - 13, // 11: jz .key  (to 22)
    0xb4,
    0x0e, // 13: mov ah, 0x0e
    0xbb,
    0x07,
    0x00, // 15: mov bx, 0x0007 (page 0, light grey)
    0xcd,
    0x10, // 18: int 0x10
    0xeb,
    (8 - 22) & 0xff, // 20: jmp .next
    0x30,
    0xe4, // 22: .key: xor ah, ah
    0xcd,
    0x16, // 24: int 0x16 (wait for a key)
    0xcd,
    0x19, // 26: int 0x19 (reboot / next device)
    0xeb,
    0xfe, // 28: jmp $
  ];
  if (code.length !== CODE_LEN) throw new Error('boot code length mismatch');
  const out = new Uint8Array(CODE_LEN + text.length + 1);
  out.set(code, 0);
  out.set(text, CODE_LEN);
  return out;
}

/** The 3-byte jump at the start of the boot sector to `codeOffset`. */
export function bootJump(codeOffset: number): Uint8Array {
  return new Uint8Array([0xeb, codeOffset - 2, 0x90]);
}
