// Build small tar / tar.gz archives in memory for fetch tests (tar-stream + node:zlib).

import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface TarMember {
  name: string;
  content?: Buffer | string;
  mode?: number;
  type?: 'file' | 'symlink' | 'link' | 'directory';
  linkname?: string;
}

export async function makeTar(members: TarMember[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const m of members) {
    const content = typeof m.content === 'string' ? Buffer.from(m.content) : (m.content ?? Buffer.alloc(0));
    const type = m.type ?? 'file';
    await new Promise<void>((res, rej) =>
      pack.entry(
        { name: m.name, mode: m.mode ?? (type === 'directory' ? 0o755 : 0o644), type, mtime: new Date(0), ...(m.linkname !== undefined ? { linkname: m.linkname } : {}) },
        type === 'file' ? content : Buffer.alloc(0),
        (e) => (e ? rej(e) : res()),
      ),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export async function makeTgz(members: TarMember[]): Promise<Buffer> {
  return gzipSync(await makeTar(members));
}
