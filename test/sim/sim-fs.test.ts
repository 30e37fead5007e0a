/** The simulated disk keeps exactly what fsync and directory fsync made durable (its contract, sim-fs.ts). */
import { describe, expect, it } from 'vitest';
import { PowerFailure, SimFileSystem } from './sim-fs.ts';

function durableFile(disk: SimFileSystem, path: string, text: string): void {
  const fd = disk.open(path, 'w+');
  disk.write(fd, Buffer.from(text), 0, text.length, 0);
  disk.fsync(fd);
  disk.close(fd);
}

describe('SimFileSystem', () => {
  it('loses a new file whose directory was not fsynced, though its data was', () => {
    const disk = new SimFileSystem();
    disk.mkdir('/d');
    disk.fsyncDir('/');
    durableFile(disk, '/d/a', 'hello');
    disk.crash();
    expect(disk.exists('/d/a')).toBe(false);
    durableFile(disk, '/d/a', 'hello');
    disk.fsyncDir('/d');
    disk.crash();
    expect(disk.readFile('/d/a').toString()).toBe('hello');
  });

  it('loses unsynced writes and truncations, keeps synced ones', () => {
    const disk = new SimFileSystem();
    disk.mkdir('/d');
    disk.fsyncDir('/');
    durableFile(disk, '/d/a', 'hello');
    disk.fsyncDir('/d');
    const fd = disk.open('/d/a', 'r+');
    disk.write(fd, Buffer.from(' world'), 0, 6, 5);
    disk.truncate(fd, 2);
    disk.crash();
    expect(disk.readFile('/d/a').toString()).toBe('hello');
  });

  it('undoes a rename and a deletion not followed by a directory fsync', () => {
    const disk = new SimFileSystem();
    disk.mkdir('/d');
    disk.fsyncDir('/');
    durableFile(disk, '/d/a', 'old');
    durableFile(disk, '/d/b', 'gone');
    disk.fsyncDir('/d');
    durableFile(disk, '/d/a.tmp', 'new');
    disk.rename('/d/a.tmp', '/d/a');
    disk.unlink('/d/b');
    disk.crash();
    expect(disk.readFile('/d/a').toString()).toBe('old');
    expect(disk.readFile('/d/b').toString()).toBe('gone');
    expect(disk.exists('/d/a.tmp')).toBe(false);
  });

  it('fails the armed mutation and every call after it until the reboot', () => {
    const disk = new SimFileSystem();
    disk.mkdir('/d');
    disk.powerFailAfter(1);
    const fd = disk.open('/d/x', 'w+'); // mutation 1
    expect(() => disk.write(fd, Buffer.from('x'), 0, 1, 0)).toThrow(PowerFailure);
    expect(() => disk.exists('/d')).toThrow(PowerFailure);
    disk.crash();
    expect(disk.exists('/d')).toBe(false); // the mkdir was never made durable in '/'
  });
});
