/*
 * faultline-lazyfs: a FUSE file system that loses every write not fsynced, on request, as a power failure
 * does (the idea of Jepsen's lazyfs; this is our own small implementation).
 *
 *   faultline-lazyfs BACKING_DIR MOUNTPOINT [fuse options]
 *
 * Semantics:
 * - Every path under MOUNTPOINT is the same path under BACKING_DIR. Metadata operations (create, mkdir,
 *   rename, unlink, rmdir, truncate, chmod, utimens) pass straight through to BACKING_DIR.
 * - File data written through MOUNTPOINT is held in memory, page by page (4 KiB), and reaches BACKING_DIR
 *   only when the file is fsynced (fsync or fdatasync on any descriptor of it). Reads see the written data.
 *   A file's size is the larger of its size in BACKING_DIR and the end of its unsynced writes; truncate
 *   drops unsynced pages past the new size.
 * - Writing "clear" to the control file MOUNTPOINT/.lazyfs-control drops every unsynced page of every
 *   file: what remains is what was fsynced (and every metadata operation). The harness kills the process
 *   using the file system first, then clears, then restarts it: exactly a power cut followed by a reboot.
 *   "stats" written to it makes the next read of it return "dirty_files N dirty_pages M cleared K full F".
 * - "full" written to the control file makes the disk full until "free" is written: every write that
 *   would grow a file, every create, mkdir and growing truncate fails with ENOSPC, and statfs reports no
 *   free blocks, as on a file system with no space left. Overwrites inside a file's size, renames,
 *   unlinks and fsyncs of data already written still work (those blocks were allocated already).
 * - Single-threaded (fuse -s) so there is no locking; caches are off (attr/entry timeouts 0) so the
 *   kernel never serves data we dropped. A file opened again after a clear is read afresh from us.
 * - A clean unmount writes every unsynced page to BACKING_DIR first: only `clear` loses data.
 * Limits: the control file is not listed by readdir. Extended attributes are not supported.
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

#define PAGE 4096
#define CONTROL "/.lazyfs-control"

struct page {
  int64_t index;
  unsigned char data[PAGE];
};

/* Unsynced state of one file (by path). pages sorted by index. */
struct file {
  char *path;
  struct page **pages;
  size_t npages, cap;
  int64_t size; /* logical size: max(backing size, end of unsynced writes), after truncates */
  struct file *next;
};

static char backing[PATH_MAX];
static struct file *files = NULL;
static long cleared = 0;
static char control_reply[256] = "";
static int disk_full = 0;

static void real_path(char *out, const char *path) { snprintf(out, PATH_MAX, "%s%s", backing, path); }

static struct file *find_file(const char *path) {
  for (struct file *f = files; f != NULL; f = f->next)
    if (strcmp(f->path, path) == 0) return f;
  return NULL;
}

static int64_t backing_size(const char *path) {
  char rp[PATH_MAX];
  struct stat st;
  real_path(rp, path);
  if (lstat(rp, &st) != 0) return -1;
  return (int64_t)st.st_size;
}

static struct file *get_file(const char *path) {
  struct file *f = find_file(path);
  if (f != NULL) return f;
  f = calloc(1, sizeof *f);
  if (f == NULL) return NULL;
  f->path = strdup(path);
  int64_t s = backing_size(path);
  f->size = s < 0 ? 0 : s;
  f->next = files;
  files = f;
  return f;
}

static void free_pages(struct file *f) {
  for (size_t i = 0; i < f->npages; i++) free(f->pages[i]);
  free(f->pages);
  f->pages = NULL;
  f->npages = f->cap = 0;
}

static void drop_file(const char *path) {
  struct file **pp = &files;
  while (*pp != NULL) {
    if (strcmp((*pp)->path, path) == 0) {
      struct file *f = *pp;
      *pp = f->next;
      free_pages(f);
      free(f->path);
      free(f);
      return;
    }
    pp = &(*pp)->next;
  }
}

/* index of the first page with index >= idx */
static size_t lower_bound(struct file *f, int64_t idx) {
  size_t lo = 0, hi = f->npages;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (f->pages[mid]->index < idx) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static struct page *find_page(struct file *f, int64_t idx) {
  size_t i = lower_bound(f, idx);
  return i < f->npages && f->pages[i]->index == idx ? f->pages[i] : NULL;
}

/* the dirty page idx, created from the backing file's bytes when new */
static struct page *dirty_page(struct file *f, int64_t idx) {
  size_t i = lower_bound(f, idx);
  if (i < f->npages && f->pages[i]->index == idx) return f->pages[i];
  struct page *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->index = idx;
  char rp[PATH_MAX];
  real_path(rp, f->path);
  int fd = open(rp, O_RDONLY);
  if (fd >= 0) {
    ssize_t r = pread(fd, p->data, PAGE, idx * PAGE);
    (void)r;
    close(fd);
  }
  if (f->npages == f->cap) {
    size_t nc = f->cap == 0 ? 16 : f->cap * 2;
    struct page **np = realloc(f->pages, nc * sizeof *np);
    if (np == NULL) {
      free(p);
      return NULL;
    }
    f->pages = np;
    f->cap = nc;
  }
  memmove(&f->pages[i + 1], &f->pages[i], (f->npages - i) * sizeof *f->pages);
  f->pages[i] = p;
  f->npages++;
  return p;
}

/* write every unsynced page to the backing file, set its size, fsync it */
static int sync_file(struct file *f, int datasync) {
  char rp[PATH_MAX];
  real_path(rp, f->path);
  int fd = open(rp, O_WRONLY);
  if (fd < 0) return -errno;
  for (size_t i = 0; i < f->npages; i++) {
    struct page *p = f->pages[i];
    int64_t off = p->index * PAGE;
    if (off >= f->size) continue;
    int64_t len = f->size - off < PAGE ? f->size - off : PAGE;
    if (pwrite(fd, p->data, (size_t)len, off) != len) {
      int e = errno;
      close(fd);
      return -e;
    }
  }
  if (ftruncate(fd, f->size) != 0 || (datasync ? fdatasync(fd) : fsync(fd)) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  close(fd);
  free_pages(f);
  return 0;
}

static void clear_all(void) {
  while (files != NULL) drop_file(files->path);
  cleared++;
}

static int lz_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  (void)fi;
  if (strcmp(path, CONTROL) == 0) {
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_size = (off_t)strlen(control_reply);
    return 0;
  }
  char rp[PATH_MAX];
  real_path(rp, path);
  if (lstat(rp, st) != 0) return -errno;
  struct file *f = find_file(path);
  if (f != NULL && S_ISREG(st->st_mode)) st->st_size = (off_t)f->size;
  return 0;
}

static int lz_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
  (void)off;
  (void)fi;
  (void)flags;
  char rp[PATH_MAX];
  real_path(rp, path);
  DIR *d = opendir(rp);
  if (d == NULL) return -errno;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = e->d_ino;
    st.st_mode = (mode_t)(e->d_type << 12);
    if (fill(buf, e->d_name, &st, 0, 0)) break;
  }
  closedir(d);
  return 0;
}

static int lz_open(const char *path, struct fuse_file_info *fi) {
  if (strcmp(path, CONTROL) == 0) {
    fi->direct_io = 1;
    return 0;
  }
  char rp[PATH_MAX];
  real_path(rp, path);
  int fd = open(rp, fi->flags & ~(O_APPEND | O_CREAT | O_EXCL));
  if (fd < 0) return -errno;
  close(fd);
  if ((fi->flags & O_TRUNC) != 0) {
    struct file *f = get_file(path);
    if (f != NULL) {
      free_pages(f);
      f->size = 0;
    }
  }
  return 0;
}

static int lz_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  if (disk_full) return -ENOSPC;
  char rp[PATH_MAX];
  real_path(rp, path);
  int fd = open(rp, O_CREAT | O_WRONLY | (fi->flags & O_EXCL), mode);
  if (fd < 0) return -errno;
  close(fd);
  drop_file(path);
  return 0;
}

static int lz_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  if (strcmp(path, CONTROL) == 0) {
    size_t n = strlen(control_reply);
    if ((size_t)off >= n) return 0;
    size_t len = n - (size_t)off < size ? n - (size_t)off : size;
    memcpy(buf, control_reply + off, len);
    return (int)len;
  }
  struct file *f = find_file(path);
  char rp[PATH_MAX];
  real_path(rp, path);
  int64_t fsize = f != NULL ? f->size : backing_size(path);
  if (fsize < 0) return -ENOENT;
  if (off >= fsize) return 0;
  if ((int64_t)size > fsize - off) size = (size_t)(fsize - off);
  int fd = open(rp, O_RDONLY);
  if (fd < 0) return -errno;
  ssize_t r = pread(fd, buf, size, off);
  int e = errno;
  close(fd);
  if (r < 0) return -e;
  if ((size_t)r < size) memset(buf + r, 0, size - (size_t)r); /* past the backing end: zeros, then pages */
  if (f != NULL) {
    for (int64_t idx = off / PAGE; idx * PAGE < off + (int64_t)size; idx++) {
      struct page *p = find_page(f, idx);
      if (p == NULL) continue;
      int64_t from = idx * PAGE > off ? idx * PAGE : off;
      int64_t to = (idx + 1) * PAGE < off + (int64_t)size ? (idx + 1) * PAGE : off + (int64_t)size;
      memcpy(buf + (from - off), p->data + (from - idx * PAGE), (size_t)(to - from));
    }
  }
  return (int)size;
}

static int lz_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  if (strcmp(path, CONTROL) == 0) {
    if (size >= 5 && strncmp(buf, "clear", 5) == 0) {
      clear_all();
      snprintf(control_reply, sizeof control_reply, "cleared %ld\n", cleared);
    } else if (size >= 5 && strncmp(buf, "stats", 5) == 0) {
      size_t nf = 0, np = 0;
      for (struct file *f = files; f != NULL; f = f->next) {
        if (f->npages > 0) nf++;
        np += f->npages;
      }
      snprintf(control_reply, sizeof control_reply, "dirty_files %zu dirty_pages %zu cleared %ld full %d\n", nf, np, cleared, disk_full);
    } else if (size >= 4 && strncmp(buf, "full", 4) == 0) {
      disk_full = 1;
      snprintf(control_reply, sizeof control_reply, "full 1\n");
    } else if (size >= 4 && strncmp(buf, "free", 4) == 0) {
      disk_full = 0;
      snprintf(control_reply, sizeof control_reply, "full 0\n");
    } else return -EINVAL;
    return (int)size;
  }
  struct file *f = get_file(path);
  if (f == NULL) return -ENOMEM;
  if ((fi->flags & O_APPEND) != 0) off = (off_t)f->size;
  if (disk_full && off + (int64_t)size > f->size) return -ENOSPC;
  for (size_t done = 0; done < size;) {
    int64_t pos = off + (int64_t)done;
    int64_t idx = pos / PAGE;
    struct page *p = dirty_page(f, idx);
    if (p == NULL) return -ENOMEM;
    size_t in = (size_t)(pos - idx * PAGE);
    size_t n = PAGE - in < size - done ? PAGE - in : size - done;
    memcpy(p->data + in, buf + done, n);
    done += n;
  }
  if (off + (int64_t)size > f->size) f->size = off + (int64_t)size;
  return (int)size;
}

static int lz_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)fi;
  if (strcmp(path, CONTROL) == 0) return 0;
  struct file *f = find_file(path);
  if (f == NULL) {
    /* nothing unsynced: still make the backing file durable */
    char rp[PATH_MAX];
    real_path(rp, path);
    int fd = open(rp, O_RDONLY);
    if (fd < 0) return -errno;
    int r = datasync ? fdatasync(fd) : fsync(fd);
    int e = errno;
    close(fd);
    return r == 0 ? 0 : -e;
  }
  return sync_file(f, datasync);
}

static int lz_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)datasync;
  (void)fi;
  char rp[PATH_MAX];
  real_path(rp, path);
  int fd = open(rp, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -errno;
  int r = fsync(fd);
  int e = errno;
  close(fd);
  return r == 0 ? 0 : -e;
}

static int lz_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  (void)fi;
  if (strcmp(path, CONTROL) == 0) return 0;
  char rp[PATH_MAX];
  real_path(rp, path);
  struct file *f = find_file(path);
  int64_t bsize = backing_size(path);
  if (disk_full && size > (f != NULL ? f->size : bsize)) return -ENOSPC;
  /* the backing file keeps only what was synced: cut it when it is longer than the new size */
  if (bsize > size && truncate(rp, size) != 0) return -errno;
  if (f != NULL) {
    size_t keep = lower_bound(f, (size + PAGE - 1) / PAGE);
    for (size_t i = keep; i < f->npages; i++) free(f->pages[i]);
    f->npages = keep;
    if (keep > 0 && f->pages[keep - 1]->index * PAGE < size) {
      struct page *p = f->pages[keep - 1];
      int64_t in = size - p->index * PAGE;
      if (in < PAGE) memset(p->data + in, 0, (size_t)(PAGE - in));
    }
    f->size = size;
  } else if (bsize < size) {
    /* growing: a sparse extension, passed through like any metadata operation */
    if (truncate(rp, size) != 0) return -errno;
  }
  return 0;
}

static int lz_unlink(const char *path) {
  char rp[PATH_MAX];
  real_path(rp, path);
  if (unlink(rp) != 0) return -errno;
  drop_file(path);
  return 0;
}

static int lz_rename(const char *from, const char *to, unsigned int flags) {
  if (flags != 0) return -EINVAL;
  char a[PATH_MAX], b[PATH_MAX];
  real_path(a, from);
  real_path(b, to);
  if (rename(a, b) != 0) return -errno;
  drop_file(to);
  size_t fl = strlen(from);
  for (struct file *f = files; f != NULL; f = f->next) {
    /* the file itself, or anything under a renamed directory */
    if (strcmp(f->path, from) == 0 || (strncmp(f->path, from, fl) == 0 && f->path[fl] == '/')) {
      char np[PATH_MAX];
      snprintf(np, sizeof np, "%s%s", to, f->path + fl);
      free(f->path);
      f->path = strdup(np);
    }
  }
  return 0;
}

static int lz_mkdir(const char *path, mode_t mode) {
  if (disk_full) return -ENOSPC;
  char rp[PATH_MAX];
  real_path(rp, path);
  return mkdir(rp, mode) == 0 ? 0 : -errno;
}

static int lz_rmdir(const char *path) {
  char rp[PATH_MAX];
  real_path(rp, path);
  return rmdir(rp) == 0 ? 0 : -errno;
}

static int lz_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
  (void)fi;
  char rp[PATH_MAX];
  real_path(rp, path);
  return chmod(rp, mode) == 0 ? 0 : -errno;
}

static int lz_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
  (void)fi;
  char rp[PATH_MAX];
  real_path(rp, path);
  return utimensat(AT_FDCWD, rp, tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

static int lz_statfs(const char *path, struct statvfs *st) {
  (void)path;
  if (statvfs(backing, st) != 0) return -errno;
  if (disk_full) st->f_bfree = st->f_bavail = 0;
  return 0;
}

static int lz_access(const char *path, int mask) {
  if (strcmp(path, CONTROL) == 0) return 0;
  char rp[PATH_MAX];
  real_path(rp, path);
  return access(rp, mask) == 0 ? 0 : -errno;
}

static void *lz_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  (void)conn;
  cfg->use_ino = 0;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->kernel_cache = 0;
  return NULL;
}

/* a clean unmount is not a power cut: everything written reaches the backing directory */
static void lz_destroy(void *data) {
  (void)data;
  for (struct file *f = files; f != NULL; f = f->next)
    if (f->npages > 0 || backing_size(f->path) != f->size) sync_file(f, 0);
}

static const struct fuse_operations ops = {
    .init = lz_init,
    .destroy = lz_destroy,
    .getattr = lz_getattr,
    .readdir = lz_readdir,
    .open = lz_open,
    .create = lz_create,
    .read = lz_read,
    .write = lz_write,
    .fsync = lz_fsync,
    .fsyncdir = lz_fsyncdir,
    .truncate = lz_truncate,
    .unlink = lz_unlink,
    .rename = lz_rename,
    .mkdir = lz_mkdir,
    .rmdir = lz_rmdir,
    .chmod = lz_chmod,
    .utimens = lz_utimens,
    .statfs = lz_statfs,
    .access = lz_access,
};

int main(int argc, char *argv[]) {
  if (argc < 3) {
    fprintf(stderr, "usage: faultline-lazyfs BACKING_DIR MOUNTPOINT [fuse options]\n");
    return 2;
  }
  if (realpath(argv[1], backing) == NULL) {
    perror(argv[1]);
    return 2;
  }
  /* fuse argv: prog MOUNTPOINT -s (single-threaded) -f (foreground) [extra] */
  char **fargv = calloc((size_t)argc + 3, sizeof *fargv);
  int n = 0;
  fargv[n++] = argv[0];
  fargv[n++] = argv[2];
  fargv[n++] = "-s";
  fargv[n++] = "-f";
  for (int i = 3; i < argc; i++) fargv[n++] = argv[i];
  return fuse_main(n, fargv, &ops, NULL);
}
