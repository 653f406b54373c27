/* A fault injector for tests: LD_PRELOAD it and every pread(2) of the file
 * PMD_EIO_PATH that reaches a byte range of PMD_EIO_RANGES ("start-end,..."
 * in bytes, end exclusive, hex or decimal) fails with EIO, as a damaged disk
 * or an unreadable page of /proc/vmcore does: a read that starts before a bad
 * range is cut short at its start, a read that starts inside it fails.
 * Each failure is counted in the file PMD_EIO_LOG (one line per EIO). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_RANGES 256

static char target[PATH_MAX];
static long long ranges[MAX_RANGES][2];
static int nranges = -1;

static void init(void)
{
	const char *p, *r;
	char *end;

	if (nranges >= 0)
		return;
	nranges = 0;
	p = getenv("PMD_EIO_PATH");
	r = getenv("PMD_EIO_RANGES");
	if (!p || !r || !realpath(p, target))
		return;
	while (*r && nranges < MAX_RANGES) {
		long long a = strtoll(r, &end, 0), b;

		if (*end != '-')
			break;
		b = strtoll(end + 1, &end, 0);
		ranges[nranges][0] = a;
		ranges[nranges][1] = b;
		nranges++;
		if (*end != ',')
			break;
		r = end + 1;
	}
}

static int is_target(int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return 0;
	path[n] = 0;
	return strcmp(path, target) == 0;
}

static void log_eio(long long off)
{
	const char *l = getenv("PMD_EIO_LOG");
	FILE *f;

	if (!l || !(f = fopen(l, "a")))
		return;
	fprintf(f, "%lld\n", off);
	fclose(f);
}

static ssize_t faulty(int fd, void *buf, size_t count, long long off,
		      ssize_t (*real)(int, void *, size_t, off_t))
{
	init();
	if (nranges > 0 && is_target(fd)) {
		for (int i = 0; i < nranges; i++) {
			long long a = ranges[i][0], b = ranges[i][1];

			if (off < b && off + (long long)count > a) {
				if (off >= a) {
					log_eio(off);
					errno = EIO;
					return -1;
				}
				count = a - off;
			}
		}
	}
	return real(fd, buf, count, off);
}

ssize_t pread64(int fd, void *buf, size_t count, off_t off)
{
	static ssize_t (*real)(int, void *, size_t, off_t);

	if (!real)
		real = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread64");
	return faulty(fd, buf, count, off, real);
}

ssize_t pread(int fd, void *buf, size_t count, off_t off)
{
	static ssize_t (*real)(int, void *, size_t, off_t);

	if (!real)
		real = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
	return faulty(fd, buf, count, off, real);
}
