/* clockshift: an LD_PRELOAD shim for tests that steps the wall clock of a running process, and only that.
 *
 * CLOCK_REALTIME readings (clock_gettime, gettimeofday, time) get an offset in nanoseconds: a native-endian
 * int64 at the start of the file named by CLOCKSHIFT_FILE, mapped shared, so a test steps the clock of a live
 * process by rewriting those 8 bytes. Monotonic and boot-time clocks are left alone, which is what a real
 * step (date -s, settimeofday, an NTP step) does. libfaketime was the first choice, but with its monotonic
 * clock left alone (FAKETIME_DONT_FAKE_MONOTONIC=1) every absolute sleep fails with EINVAL in 0.9.10.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const volatile int64_t *offset_ns;
static int (*real_clock_gettime)(clockid_t, struct timespec *);

static void setup(void) __attribute__((constructor));
static void setup(void) {
    real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    const char *path = getenv("CLOCKSHIFT_FILE");
    if (path == NULL) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    void *mapped = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (mapped != MAP_FAILED) offset_ns = mapped;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    if (real_clock_gettime == NULL) setup();
    int result = real_clock_gettime(id, ts);
    if (result == 0 && offset_ns != NULL && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        int64_t ns = (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec + *offset_ns;
        ts->tv_sec = (time_t)(ns / 1000000000LL);
        ts->tv_nsec = (long)(ns % 1000000000LL);
        if (ts->tv_nsec < 0) {
            ts->tv_nsec += 1000000000L;
            ts->tv_sec -= 1;
        }
    }
    return result;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    (void)tz;
    struct timespec ts;
    int result = clock_gettime(CLOCK_REALTIME, &ts);
    if (result == 0) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return result;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out != NULL) *out = ts.tv_sec;
    return ts.tv_sec;
}
