/** The real disk (log/fs.ts states the FileSystem contract). */
import * as fs from 'node:fs';
import type { FileSystem } from '../log/fs.ts';

/** The real disk, through node:fs. */
export const nodeFileSystem: FileSystem = {
  open: (path, flags) => fs.openSync(path, flags),
  close: (fd) => fs.closeSync(fd),
  read: (fd, buf, offset, length, position) => fs.readSync(fd, buf, offset, length, position),
  write: (fd, buf, offset, length, position) => fs.writeSync(fd, buf, offset, length, position),
  size: (fd) => fs.fstatSync(fd).size,
  truncate: (fd, length) => fs.ftruncateSync(fd, length),
  fsync: (fd) => fs.fsyncSync(fd),
  fsyncDir: (dir) => {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
  exists: (path) => fs.existsSync(path),
  list: (dir) => fs.readdirSync(dir),
  mkdir: (dir) => {
    fs.mkdirSync(dir, { recursive: true });
  },
  unlink: (path) => fs.rmSync(path, { force: true }),
  rename: (from, to) => fs.renameSync(from, to),
  readFile: (path) => fs.readFileSync(path),
  removeTree: (path) => fs.rmSync(path, { recursive: true, force: true }),
};
