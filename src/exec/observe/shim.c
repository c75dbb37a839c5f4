/*
 * hbuild's file-access observer, loaded into a test run with LD_PRELOAD.
 *
 * Every successful call that opens a file by name (open, openat, fopen,
 * opendir, creat, the exec family, posix_spawn...) appends the absolute
 * path it opened to the file named by HBUILD_ACCESS_LOG, one line each,
 * written with a single write() on an O_APPEND descriptor so that lines of
 * concurrent threads and processes never interleave. At load time it also
 * logs the program that was executed and the shared libraries the loader
 * mapped, so programs started through glibc-internal paths (system(),
 * popen()) are seen too.
 *
 * It must not change the programs it observes: no allocation, errno kept,
 * only async-signal-safe calls on the logging path (it runs after fork, in
 * vfork children and in signal handlers), and the log is opened with the
 * raw system call so that logging never re-enters these hooks. Relative
 * paths are resolved lexically against the cwd or the directory fd; the
 * reader normalises `.` and `..`.
 *
 * Line format: the path, with '\\' written as "\\\\" and '\n' as "\\n".
 * A line that does not start with '/' is a marker for an access whose path
 * could not be written ("(truncated) ...", "(unresolved) ..."). A log line
 * that could not be written leaves the directory "<log>.lost" behind.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* The log and its loss marker, copied from the environment at load time:
 * the program may change its environment afterwards, and getenv is not
 * safe against a concurrent setenv. */
static char log_path[PATH_MAX];
static char lost_path[PATH_MAX];
static int active;

/* ---- the log ---------------------------------------------------------- */

static void mark_lost(void) {
    syscall(SYS_mkdirat, AT_FDCWD, lost_path, 0700);
}

static void write_line(const char *line, size_t len) {
    long fd = syscall(SYS_openat, AT_FDCWD, log_path,
                      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        mark_lost();
        return;
    }
    long n = syscall(SYS_write, (int)fd, line, len);
    if (n != (long)len)
        mark_lost();
    syscall(SYS_close, (int)fd);
}

/* Appends s[0..n) to buf at *at, escaped; 0 if it does not fit. */
static int put(char *buf, size_t cap, size_t *at, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        const char *e = c == '\\' ? "\\\\" : c == '\n' ? "\\n" : NULL;
        size_t need = e ? 2 : 1;
        if (*at + need >= cap)
            return 0;
        if (e) {
            buf[(*at)++] = e[0];
            buf[(*at)++] = e[1];
        } else {
            buf[(*at)++] = c;
        }
    }
    return 1;
}

/* Writes the line `marker base/path` (base and marker optional). A path
 * too long for PATH_MAX is written truncated behind "(truncated) ", which
 * the reader never takes for a declared path. */
static void emit(const char *marker, const char *base, const char *path) {
    char line[PATH_MAX + 32];
    const size_t cap = PATH_MAX;
    size_t at = 0;
    int ok = 1;
    if (marker)
        ok = put(line, cap, &at, marker, strlen(marker));
    if (ok && base) {
        size_t n = strlen(base);
        ok = put(line, cap, &at, base, n) &&
             (n > 0 && base[n - 1] == '/' ? 1 : put(line, cap, &at, "/", 1));
    }
    if (ok)
        ok = put(line, cap, &at, path, strlen(path));
    if (!ok) {
        static const char t[] = "(truncated) ";
        memmove(line + sizeof t - 1, line, at);
        memcpy(line, t, sizeof t - 1);
        at += sizeof t - 1;
    } else if (!marker && !base && strcmp(path, log_path) == 0) {
        return;
    }
    line[at++] = '\n';
    write_line(line, at);
}

/* Logs `path` as opened relative to `dirfd` (AT_FDCWD: the cwd). */
static void log_at(int dirfd, const char *path) {
    if (!active || path == NULL || path[0] == '\0')
        return;
    int saved = errno;
    if (path[0] == '/') {
        emit(NULL, NULL, path);
    } else {
        char base[PATH_MAX];
        int ok;
        if (dirfd == AT_FDCWD) {
            ok = getcwd(base, sizeof base) != NULL;
        } else {
            char link[32] = "/proc/self/fd/";
            char digits[16];
            int nd = 0;
            unsigned v = (unsigned)dirfd;
            do {
                digits[nd++] = (char)('0' + v % 10);
                v /= 10;
            } while (v && nd < (int)sizeof digits);
            size_t at = strlen(link);
            while (nd > 0)
                link[at++] = digits[--nd];
            link[at] = '\0';
            ssize_t n = readlink(link, base, sizeof base - 1);
            ok = n > 0 && base[0] == '/';
            if (ok)
                base[n] = '\0';
        }
        if (ok && base[0] == '/') {
            /* A full path equal to the log is the log itself. */
            char full[PATH_MAX];
            size_t bl = strlen(base), pl = strlen(path);
            if (bl + 1 + pl < sizeof full) {
                memcpy(full, base, bl);
                full[bl] = '/';
                memcpy(full + bl + 1, path, pl + 1);
                emit(NULL, NULL, full);
            } else {
                emit(NULL, base, path);
            }
        } else {
            emit("(unresolved) ", NULL, path);
        }
    }
    errno = saved;
}

/* ---- the real functions ----------------------------------------------- */

static void *resolve(void **slot, const char *name) {
    void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (f == NULL) {
        f = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, f, __ATOMIC_RELEASE);
    }
    return f;
}

/* One slot per hooked function, resolved at load time (so that fork
 * children and signal handlers never call dlsym) or on first use (a hook
 * called by another library's constructor before ours ran). */
#define REAL(type, name)                                                   \
    static void *slot_##name;                                              \
    static type real_##name(void) {                                        \
        return (type)resolve(&slot_##name, #name);                         \
    }

#ifdef O_TMPFILE
#define NEEDS_MODE(flags) (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE)
#define NAMELESS(flags) (((flags) & O_TMPFILE) == O_TMPFILE)
#else
#define NEEDS_MODE(flags) ((flags) & O_CREAT)
#define NAMELESS(flags) 0
#endif

#define MODE_ARG(flags, mode)                                              \
    do {                                                                   \
        if (NEEDS_MODE(flags)) {                                           \
            va_list ap;                                                    \
            va_start(ap, flags);                                           \
            mode = va_arg(ap, int);                                        \
            va_end(ap);                                                    \
        }                                                                  \
    } while (0)

#define MISSING(ret)                                                       \
    do {                                                                   \
        errno = ENOSYS;                                                    \
        return ret;                                                        \
    } while (0)

/* ---- open ------------------------------------------------------------- */

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);

#define OPEN_HOOK(name)                                                    \
    REAL(open_fn, name)                                                    \
    EXPORT int name(const char *path, int flags, ...) {                    \
        int mode = 0;                                                      \
        MODE_ARG(flags, mode);                                             \
        open_fn f = real_##name();                                         \
        if (f == NULL)                                                     \
            MISSING(-1);                                                   \
        int fd = f(path, flags, mode);                                     \
        if (fd >= 0 && !NAMELESS(flags))                                   \
            log_at(AT_FDCWD, path);                                        \
        return fd;                                                         \
    }

#define OPENAT_HOOK(name)                                                  \
    REAL(openat_fn, name)                                                  \
    EXPORT int name(int dirfd, const char *path, int flags, ...) {         \
        int mode = 0;                                                      \
        MODE_ARG(flags, mode);                                             \
        openat_fn f = real_##name();                                       \
        if (f == NULL)                                                     \
            MISSING(-1);                                                   \
        int fd = f(dirfd, path, flags, mode);                              \
        if (fd >= 0 && !NAMELESS(flags))                                   \
            log_at(dirfd, path);                                           \
        return fd;                                                         \
    }

/* The _FORTIFY_SOURCE entry points. */
#define OPEN2_HOOK(name)                                                   \
    REAL(open2_fn, name)                                                   \
    EXPORT int name(const char *path, int flags) {                         \
        open2_fn f = real_##name();                                        \
        if (f == NULL)                                                     \
            MISSING(-1);                                                   \
        int fd = f(path, flags);                                           \
        if (fd >= 0 && !NAMELESS(flags))                                   \
            log_at(AT_FDCWD, path);                                        \
        return fd;                                                         \
    }

#define OPENAT2_HOOK(name)                                                 \
    REAL(openat2_fn, name)                                                 \
    EXPORT int name(int dirfd, const char *path, int flags) {              \
        openat2_fn f = real_##name();                                      \
        if (f == NULL)                                                     \
            MISSING(-1);                                                   \
        int fd = f(dirfd, path, flags);                                    \
        if (fd >= 0 && !NAMELESS(flags))                                   \
            log_at(dirfd, path);                                           \
        return fd;                                                         \
    }

#undef open64
#undef openat64
#undef creat64
#undef fopen64
#undef freopen64
#undef scandir64

OPEN_HOOK(open)
OPENAT_HOOK(openat)
OPEN2_HOOK(__open_2)
OPENAT2_HOOK(__openat_2)
#ifdef __GLIBC__
OPEN_HOOK(open64)
OPENAT_HOOK(openat64)
OPEN2_HOOK(__open64_2)
OPENAT2_HOOK(__openat64_2)
#endif

typedef int (*creat_fn)(const char *, mode_t);
#define CREAT_HOOK(name)                                                   \
    REAL(creat_fn, name)                                                   \
    EXPORT int name(const char *path, mode_t mode) {                       \
        creat_fn f = real_##name();                                        \
        if (f == NULL)                                                     \
            MISSING(-1);                                                   \
        int fd = f(path, mode);                                            \
        if (fd >= 0)                                                       \
            log_at(AT_FDCWD, path);                                        \
        return fd;                                                         \
    }
CREAT_HOOK(creat)
#ifdef __GLIBC__
CREAT_HOOK(creat64)
#endif

/* ---- stdio and directories -------------------------------------------- */

typedef FILE *(*fopen_fn)(const char *, const char *);
typedef FILE *(*freopen_fn)(const char *, const char *, FILE *);
#define FOPEN_HOOK(name)                                                   \
    REAL(fopen_fn, name)                                                   \
    EXPORT FILE *name(const char *path, const char *mode) {                \
        fopen_fn f = real_##name();                                        \
        if (f == NULL)                                                     \
            MISSING(NULL);                                                 \
        FILE *r = f(path, mode);                                           \
        if (r != NULL)                                                     \
            log_at(AT_FDCWD, path);                                        \
        return r;                                                          \
    }
#define FREOPEN_HOOK(name)                                                 \
    REAL(freopen_fn, name)                                                 \
    EXPORT FILE *name(const char *path, const char *mode, FILE *s) {       \
        freopen_fn f = real_##name();                                      \
        if (f == NULL)                                                     \
            MISSING(NULL);                                                 \
        FILE *r = f(path, mode, s);                                        \
        if (r != NULL)                                                     \
            log_at(AT_FDCWD, path);                                        \
        return r;                                                          \
    }
FOPEN_HOOK(fopen)
FREOPEN_HOOK(freopen)
#ifdef __GLIBC__
FOPEN_HOOK(fopen64)
FREOPEN_HOOK(freopen64)
#endif

typedef DIR *(*opendir_fn)(const char *);
REAL(opendir_fn, opendir)
EXPORT DIR *opendir(const char *path) {
    opendir_fn f = real_opendir();
    if (f == NULL)
        MISSING(NULL);
    DIR *d = f(path);
    if (d != NULL)
        log_at(AT_FDCWD, path);
    return d;
}

/* scandir opens its directory with glibc's internal opendir. */
#define SCANDIR_HOOK(name, ent)                                            \
    typedef int (*name##_fn)(const char *, struct ent ***,                 \
                             int (*)(const struct ent *),                  \
                             int (*)(const struct ent **, const struct ent **)); \
    REAL(name##_fn, name)                                                  \
    EXPORT int name(const char *path, struct ent ***list,                  \
                    int (*filter)(const struct ent *),                     \
                    int (*cmp)(const struct ent **, const struct ent **)) { \
        name##_fn f = real_##name();                                       \
        if (f == NULL)                                                     \
            MISSING(-1);                                                   \
        int n = f(path, list, filter, cmp);                                \
        if (n >= 0)                                                        \
            log_at(AT_FDCWD, path);                                        \
        return n;                                                          \
    }
SCANDIR_HOOK(scandir, dirent)
#ifdef __GLIBC__
SCANDIR_HOOK(scandir64, dirent64)
#endif

/* ---- programs started ------------------------------------------------- */

/* Logs what exec would run: a file that exists, is regular and executable.
 * The exec family logs before the call, since on success it never
 * returns; the checks keep a failed exec out of the log. */
static int runnable(int dirfd, const char *path) {
    struct stat st;
    return fstatat(dirfd, path, &st, 0) == 0 && S_ISREG(st.st_mode) &&
           faccessat(dirfd, path, X_OK, 0) == 0;
}

static void log_exec_at(int dirfd, const char *path) {
    if (!active || path == NULL || path[0] == '\0')
        return;
    int saved = errno;
    if (runnable(dirfd, path))
        log_at(dirfd, path);
    errno = saved;
}

/* The file an exec*p or posix_spawnp call runs: `file` itself if it has a
 * slash, else the first runnable match in PATH (as glibc searches it). */
static void log_exec_search(const char *file) {
    if (!active || file == NULL || file[0] == '\0')
        return;
    if (strchr(file, '/') != NULL) {
        log_exec_at(AT_FDCWD, file);
        return;
    }
    int saved = errno;
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/bin:/usr/bin";
    size_t fl = strlen(file);
    for (const char *p = path;;) {
        const char *end = strchrnul(p, ':');
        size_t dl = (size_t)(end - p);
        char cand[PATH_MAX];
        if (dl == 0) {
            cand[0] = '.';
            dl = 1;
        } else if (dl < sizeof cand) {
            memcpy(cand, p, dl);
        }
        if (dl + 1 + fl < sizeof cand) {
            cand[dl] = '/';
            memcpy(cand + dl + 1, file, fl + 1);
            if (runnable(AT_FDCWD, cand)) {
                log_at(AT_FDCWD, cand);
                break;
            }
        }
        if (*end == '\0')
            break;
        p = end + 1;
    }
    errno = saved;
}

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);

REAL(execve_fn, execve)
EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    log_exec_at(AT_FDCWD, path);
    execve_fn f = real_execve();
    if (f == NULL)
        MISSING(-1);
    return f(path, argv, envp);
}

REAL(execv_fn, execv)
EXPORT int execv(const char *path, char *const argv[]) {
    log_exec_at(AT_FDCWD, path);
    execv_fn f = real_execv();
    if (f == NULL)
        MISSING(-1);
    return f(path, argv);
}

REAL(execv_fn, execvp)
EXPORT int execvp(const char *file, char *const argv[]) {
    log_exec_search(file);
    execv_fn f = real_execvp();
    if (f == NULL)
        MISSING(-1);
    return f(file, argv);
}

REAL(execve_fn, execvpe)
EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    log_exec_search(file);
    execve_fn f = real_execvpe();
    if (f == NULL)
        MISSING(-1);
    return f(file, argv, envp);
}

int execveat(int, const char *, char *const[], char *const[], int);
REAL(execveat_fn, execveat)
EXPORT int execveat(int dirfd, const char *path, char *const argv[],
                    char *const envp[], int flags) {
    /* With AT_EMPTY_PATH (an empty path) the file is the descriptor,
     * logged when it was opened. */
    log_exec_at(dirfd, path);
    execveat_fn f = real_execveat();
    if (f == NULL)
        MISSING(-1);
    return f(dirfd, path, argv, envp, flags);
}

/* The list forms gather their arguments into an array on the stack and run
 * the array form of the real library. */
#define GATHER_ARGS(arg0, last, argv)                                      \
    size_t argc = 1;                                                       \
    {                                                                      \
        va_list ap;                                                        \
        va_start(ap, last);                                                \
        while (va_arg(ap, char *) != NULL)                                 \
            argc++;                                                        \
        va_end(ap);                                                        \
    }                                                                      \
    char *argv[argc + 1];                                                  \
    argv[0] = (char *)(arg0);                                              \
    va_list ap;                                                            \
    va_start(ap, last);                                                    \
    for (size_t i = 1; i <= argc; i++)                                     \
        argv[i] = va_arg(ap, char *);

EXPORT int execl(const char *path, const char *arg, ...) {
    GATHER_ARGS(arg, arg, argv)
    va_end(ap);
    log_exec_at(AT_FDCWD, path);
    execv_fn f = real_execv();
    if (f == NULL)
        MISSING(-1);
    return f(path, argv);
}

EXPORT int execlp(const char *file, const char *arg, ...) {
    GATHER_ARGS(arg, arg, argv)
    va_end(ap);
    log_exec_search(file);
    execv_fn f = real_execvp();
    if (f == NULL)
        MISSING(-1);
    return f(file, argv);
}

EXPORT int execle(const char *path, const char *arg, ...) {
    GATHER_ARGS(arg, arg, argv)
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    log_exec_at(AT_FDCWD, path);
    execve_fn f = real_execve();
    if (f == NULL)
        MISSING(-1);
    return f(path, argv, envp);
}

/* posix_spawn reports a failed exec (glibc 2.24+), so these log after the
 * call, and only when it succeeded. */
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);

REAL(spawn_fn, posix_spawn)
EXPORT int posix_spawn(pid_t *pid, const char *path,
                       const posix_spawn_file_actions_t *actions,
                       const posix_spawnattr_t *attr, char *const argv[],
                       char *const envp[]) {
    spawn_fn f = real_posix_spawn();
    if (f == NULL)
        return ENOSYS;
    int r = f(pid, path, actions, attr, argv, envp);
    if (r == 0)
        log_at(AT_FDCWD, path);
    return r;
}

REAL(spawn_fn, posix_spawnp)
EXPORT int posix_spawnp(pid_t *pid, const char *file,
                        const posix_spawn_file_actions_t *actions,
                        const posix_spawnattr_t *attr, char *const argv[],
                        char *const envp[]) {
    spawn_fn f = real_posix_spawnp();
    if (f == NULL)
        return ENOSYS;
    int r = f(pid, file, actions, attr, argv, envp);
    if (r == 0)
        log_exec_search(file);
    return r;
}

/* ---- load time -------------------------------------------------------- */

static int log_object(struct dl_phdr_info *info, size_t size, void *self) {
    (void)size;
    const char *name = info->dlpi_name;
    const char *own = self;
    if (name != NULL && name[0] == '/' && (own == NULL || strcmp(name, own) != 0))
        log_at(AT_FDCWD, name);
    return 0;
}

__attribute__((constructor)) static void observe_init(void) {
    const char *log = getenv("HBUILD_ACCESS_LOG");
    if (log == NULL || log[0] != '/' || strlen(log) + sizeof ".lost" > sizeof log_path)
        return;
    strcpy(log_path, log);
    strcpy(lost_path, log);
    strcat(lost_path, ".lost");

    void **slots[] = {
        &slot_open, &slot_openat, &slot___open_2, &slot___openat_2,
        &slot_creat, &slot_fopen, &slot_freopen, &slot_opendir,
        &slot_scandir, &slot_execve, &slot_execv, &slot_execvp,
        &slot_execvpe, &slot_execveat, &slot_posix_spawn, &slot_posix_spawnp,
#ifdef __GLIBC__
        &slot_open64, &slot_openat64, &slot___open64_2, &slot___openat64_2,
        &slot_creat64, &slot_fopen64, &slot_freopen64, &slot_scandir64,
#endif
    };
    static const char *const names[] = {
        "open", "openat", "__open_2", "__openat_2",
        "creat", "fopen", "freopen", "opendir",
        "scandir", "execve", "execv", "execvp",
        "execvpe", "execveat", "posix_spawn", "posix_spawnp",
#ifdef __GLIBC__
        "open64", "openat64", "__open64_2", "__openat64_2",
        "creat64", "fopen64", "freopen64", "scandir64",
#endif
    };
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
        resolve(slots[i], names[i]);
    active = 1;

    /* The program this process runs (its exec may have gone through a
     * path no hook sees) and the libraries the loader mapped for it. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        log_at(AT_FDCWD, exe);
    }
    Dl_info self;
    const char *own = NULL;
    if (dladdr((void *)&observe_init, &self) != 0)
        own = self.dli_fname;
    dl_iterate_phdr(log_object, (void *)own);
}
