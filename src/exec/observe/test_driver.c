/* Calls every function the file-access shim hooks, for its tests. Run in a
 * directory holding the files named below; exits non-zero on the first
 * call that does not behave as without the shim. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);

extern char **environ;

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "driver: %s failed: %s\n", what, strerror(errno));
        exit(2);
    }
}

static void fd_ok(int fd, const char *what) {
    check(fd >= 0, what);
    close(fd);
}

static void file_ok(FILE *f, const char *what) {
    check(f != NULL, what);
    fclose(f);
}

/* Runs `how` in a child and checks it exec'd a program that exited 0. */
static void child_ok(void (*how)(void), const char *what) {
    pid_t pid = fork();
    check(pid >= 0, "fork");
    if (pid == 0) {
        how();
        _exit(127);
    }
    int status;
    check(waitpid(pid, &status, 0) == pid, "waitpid");
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, what);
}

static char *const args[] = {"x", NULL};

static void run_execve(void) { execve("x-execve", args, environ); }
static void run_execv(void) {
    char abs[4096];
    check(getcwd(abs, sizeof abs - 16) != NULL, "getcwd");
    strcat(abs, "/x-execv");
    execv(abs, args);
}
static void run_execvp(void) {
    char path[4096] = "/nonexistent:";
    check(getcwd(path + strlen(path), sizeof path - 32) != NULL, "getcwd");
    setenv("PATH", path, 1);
    execvp("x-execvp", args);
}
static void run_execvpe(void) {
    setenv("PATH", ".", 1);
    execvpe("x-execvpe", args, environ);
}
static void run_execl(void) { execl("./x-execl", "x", (char *)NULL); }
static void run_execlp(void) { execlp("./x-execlp", "x", (char *)NULL); }
static void run_execle(void) { execle("x-execle", "x", (char *)NULL, environ); }
static void run_execveat(void) {
    int dir = open("sub", O_RDONLY | O_DIRECTORY);
    check(dir >= 0, "open sub");
    execveat(dir, "x-execveat", args, environ, 0);
}
static void run_missing(void) { execve("x-missing", args, environ); }

static void hooks(void) {
    fd_ok(open("f-open", O_RDONLY), "open");
    fd_ok(open64("f-open64", O_RDONLY), "open64");
    fd_ok(__open_2("f-open_2", O_RDONLY), "__open_2");
    fd_ok(__open64_2("f-open64_2", O_RDONLY), "__open64_2");
    int sub = open("sub", O_RDONLY | O_DIRECTORY);
    check(sub >= 0, "open sub");
    fd_ok(openat(sub, "f-openat", O_RDONLY), "openat");
    fd_ok(openat64(sub, "f-openat64", O_RDONLY), "openat64");
    fd_ok(__openat_2(sub, "f-openat_2", O_RDONLY), "__openat_2");
    fd_ok(__openat64_2(sub, "f-openat64_2", O_RDONLY), "__openat64_2");
    fd_ok(openat(AT_FDCWD, "f-openat-cwd", O_RDONLY), "openat AT_FDCWD");
    close(sub);
    fd_ok(creat("f-creat", 0644), "creat");
    fd_ok(creat64("f-creat64", 0644), "creat64");
    file_ok(fopen("f-fopen", "r"), "fopen");
    file_ok(fopen64("f-fopen64", "r"), "fopen64");
    FILE *f = fopen("/dev/null", "r");
    check(f != NULL, "fopen /dev/null");
    file_ok(freopen("f-freopen", "r", f), "freopen");
    DIR *d = opendir("d-opendir");
    check(d != NULL, "opendir");
    closedir(d);
    struct dirent **list;
    int n = scandir("d-scandir", &list, NULL, alphasort);
    check(n >= 0, "scandir");
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);

    /* Failures are not logged, and keep their errno. */
    check(open("missing-open", O_RDONLY) < 0 && errno == ENOENT, "open of a missing file");
    check(fopen("missing-fopen", "r") == NULL && errno == ENOENT, "fopen of a missing file");
    check(opendir("missing-dir") == NULL && errno == ENOENT, "opendir of a missing dir");

    child_ok(run_execve, "execve");
    child_ok(run_execv, "execv");
    child_ok(run_execvp, "execvp");
    child_ok(run_execvpe, "execvpe");
    child_ok(run_execl, "execl");
    child_ok(run_execlp, "execlp");
    child_ok(run_execle, "execle");
    child_ok(run_execveat, "execveat");
    pid_t pid = fork();
    check(pid >= 0, "fork");
    if (pid == 0) {
        run_missing();
        _exit(errno == ENOENT ? 0 : 1);
    }
    int status;
    check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "execve of a missing program");

    check(posix_spawn(&pid, "x-posix_spawn", NULL, NULL, args, environ) == 0, "posix_spawn");
    check(waitpid(pid, &status, 0) == pid && status == 0, "posix_spawn's child");
    char path[4096] = "/nonexistent:";
    check(getcwd(path + strlen(path), sizeof path - 32) != NULL, "getcwd");
    setenv("PATH", path, 1);
    check(posix_spawnp(&pid, "x-posix_spawnp", NULL, NULL, args, environ) == 0, "posix_spawnp");
    check(waitpid(pid, &status, 0) == pid && status == 0, "posix_spawnp's child");
    check(posix_spawn(&pid, "x-missing-spawn", NULL, NULL, args, environ) == ENOENT,
          "posix_spawn of a missing program");
}

/* A successful call leaves errno alone, even when the log cannot be
 * written. */
static void errno_kept(void) {
    errno = EXDEV;
    int fd = open("f-errno", O_RDONLY);
    check(fd >= 0, "open");
    if (errno != EXDEV) {
        fprintf(stderr, "driver: errno changed to %d\n", errno);
        exit(3);
    }
    close(fd);
}

static void *opener(void *arg) {
    long t = (long)arg;
    char name[64];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "t-%ld-%d", t, i);
        int fd = open(name, O_WRONLY | O_CREAT, 0644);
        check(fd >= 0, "open in a thread");
        close(fd);
    }
    return NULL;
}

/* 8 threads creating 100 files each at once. */
static void threads(void) {
    pthread_t th[8];
    for (long t = 0; t < 8; t++)
        check(pthread_create(&th[t], NULL, opener, (void *)t) == 0, "pthread_create");
    for (int t = 0; t < 8; t++)
        pthread_join(th[t], NULL);
}

int main(int argc, char **argv) {
    if (argc != 2)
        return 64;
    if (strcmp(argv[1], "hooks") == 0)
        hooks();
    else if (strcmp(argv[1], "errno") == 0)
        errno_kept();
    else if (strcmp(argv[1], "threads") == 0)
        threads();
    else
        return 64;
    return 0;
}
