/* journal-lab's clock faults: the wall clock (CLOCK_REALTIME and its variants), as the process
 * that preloads this library reads it, moved by the whole seconds written in CLOCK_FILE (read at
 * every call, so a fault moves it in a running process: `-3600`, `+3600`, `+0`). Nothing else
 * moves: CLOCK_MONOTONIC, CLOCK_BOOTTIME and every timer on them stay true, as in a real clock
 * step. Absolute timers a process arms on the wall clock through timerfd (systemd's sd-event
 * does) are moved back by the same offset, as the kernel re-arms them after a real step.
 *
 * Why not libfaketime (what the lab preloaded before): its timerfd_settime() moves *every*
 * absolute timer by the offset, monotonic ones too ("only CLOCK_REALTIME is handled"), whatever
 * DONT_FAKE_MONOTONIC says. An hour forward on a machine up for less than an hour made journald's
 * sd-event timers negative: "Failed to run event loop: Invalid argument", journald exited at
 * every start and its sockets ended at start-limit-hit (docs/findings.md, 2026-12-07).
 *
 * Compiled on the host at provision time with the release's own compiler, so it matches the
 * release's C library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOCK_FILE
#define CLOCK_FILE "/etc/journal-lab/clock"
#endif

/* Timer descriptors created on a wall clock (file descriptors below this bound). */
#define TRACKED_FDS 4096
static unsigned char wall_timerfd[TRACKED_FDS];

static long offset_seconds(void)
{
    char text[32];
    int saved = errno;
    int fd = open(CLOCK_FILE, O_RDONLY | O_CLOEXEC);
    long seconds = 0;
    if (fd >= 0) {
        ssize_t n = read(fd, text, sizeof text - 1);
        if (n > 0) {
            text[n] = '\0';
            seconds = strtol(text, NULL, 10);
        }
        close(fd);
    }
    errno = saved;
    return seconds;
}

static int is_wall_clock(clockid_t id)
{
    return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_REALTIME_ALARM ||
           id == CLOCK_TAI;
}

static void *next(const char *symbol)
{
    return dlsym(RTLD_NEXT, symbol);
}

int clock_gettime(clockid_t id, struct timespec *now)
{
    static int (*real)(clockid_t, struct timespec *);
    if (!real)
        real = (int (*)(clockid_t, struct timespec *))next("clock_gettime");
    int result = real(id, now);
    if (result == 0 && is_wall_clock(id))
        now->tv_sec += offset_seconds();
    return result;
}

int gettimeofday(struct timeval *restrict now, void *restrict zone)
{
    static int (*real)(struct timeval *restrict, void *restrict);
    if (!real)
        real = (int (*)(struct timeval *restrict, void *restrict))next("gettimeofday");
    int result = real(now, zone);
    if (result == 0)
        now->tv_sec += offset_seconds();
    return result;
}

time_t time(time_t *out)
{
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0)
        return (time_t)-1;
    if (out)
        *out = now.tv_sec;
    return now.tv_sec;
}

int timespec_get(struct timespec *now, int base)
{
    if (base != TIME_UTC || clock_gettime(CLOCK_REALTIME, now) != 0)
        return 0;
    return base;
}

int timerfd_create(clockid_t id, int flags)
{
    static int (*real)(clockid_t, int);
    if (!real)
        real = (int (*)(clockid_t, int))next("timerfd_create");
    int fd = real(id, flags);
    if (fd >= 0 && fd < TRACKED_FDS)
        wall_timerfd[fd] = is_wall_clock(id);
    return fd;
}

int timerfd_settime(int fd, int flags, const struct itimerspec *value, struct itimerspec *old)
{
    static int (*real)(int, int, const struct itimerspec *, struct itimerspec *);
    if (!real)
        real = (int (*)(int, int, const struct itimerspec *, struct itimerspec *))next(
            "timerfd_settime");
    if (value && (flags & TFD_TIMER_ABSTIME) && fd >= 0 && fd < TRACKED_FDS && wall_timerfd[fd] &&
        (value->it_value.tv_sec != 0 || value->it_value.tv_nsec != 0)) {
        struct itimerspec moved = *value;
        moved.it_value.tv_sec -= offset_seconds();
        if (moved.it_value.tv_sec <= 0) {
            /* Already due: the kernel fires an absolute timer in the past at once. */
            moved.it_value.tv_sec = 0;
            moved.it_value.tv_nsec = 1;
        }
        return real(fd, flags, &moved, old);
    }
    return real(fd, flags, value, old);
}
