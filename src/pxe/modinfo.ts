// The .modinfo section of a kernel module (an ELF64 little-endian relocatable object): NUL-separated key=value
// strings (license=, depends=, softdep=, alias=, ...). modules.dep has the hard dependencies; soft dependencies
// ("softdep=pre: crypto-crc32c" in ext4.ko) are only here, which is why a closure needs this reader.

export type ModInfo = Map<string, string[]>;

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

/** key -> values (a key such as alias= repeats). Throws on a file that is not an ELF64 LE object with .modinfo. */
export function readModInfo(elf: Buffer, name = 'module'): ModInfo {
  if (elf.length < 64 || ELF_MAGIC.some((b, i) => elf[i] !== b) || elf[4] !== 2 || elf[5] !== 1) {
    throw new Error(`${name} is not an ELF64 little-endian object`);
  }
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return { name: elf.readUInt32LE(at), offset: Number(elf.readBigUInt64LE(at + 24)), size: Number(elf.readBigUInt64LE(at + 32)) };
  };
  const names = section(shstrndx);
  const nameOf = (off: number) => {
    const start = names.offset + off;
    return elf.toString('latin1', start, elf.indexOf(0, start));
  };
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (nameOf(s.name) !== '.modinfo') continue;
    const info: ModInfo = new Map();
    for (const kv of elf.toString('utf8', s.offset, s.offset + s.size).split('\0')) {
      const eq = kv.indexOf('=');
      if (eq <= 0) continue;
      const key = kv.slice(0, eq);
      info.set(key, [...(info.get(key) ?? []), kv.slice(eq + 1)]);
    }
    return info;
  }
  throw new Error(`${name} has no .modinfo section`);
}

/** The modules a softdep= value loads first ("pre: a b post: c" -> [a, b]); post: ones are not needed to load. */
export function softdepPre(values: readonly string[]): string[] {
  const pre: string[] = [];
  for (const v of values) {
    let inPre = false;
    for (const word of v.trim().split(/\s+/)) {
      if (word === 'pre:') inPre = true;
      else if (word === 'post:') inPre = false;
      else if (inPre && word !== '') pre.push(word);
    }
  }
  return pre;
}
