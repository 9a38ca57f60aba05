/* EVFILT_SIGNAL on Linux: a counting handler that chains to the previous one.
 *
 * Story (spec §5.8, §6.5, D16): BSD's EVFILT_SIGNAL counts every generation of a signal
 * and never changes what the signal does. signalfd cannot give that: it sees a signal
 * only while it is blocked in every thread (a library cannot block it in threads that
 * already exist), it consumes the signal (Python handlers and KeyboardInterrupt stop
 * working) and misses thread-directed signals. So kevents installs this handler, which
 * is async-signal-safe: it adds one to a 64-bit per-signal counter, remembers the last
 * sender's siginfo, writes to one process-wide eventfd that every queue with SIGNAL
 * knotes watches edge-triggered (each write is a new edge for every epoll), and then
 * calls the previous action: the previous handler (CPython's own C handler, normally,
 * so Python handlers still run) with its own calling convention, or the default action
 * reproduced (terminate/core: restore SIG_DFL, unblock, re-raise; stop: SIGSTOP; the
 * ignore-by-default signals: nothing), or nothing for SIG_IGN.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define KEV_NSIG 65

static volatile uint64_t kev_sig_counts[KEV_NSIG];
static volatile int64_t kev_sig_last[KEV_NSIG][3]; /* pid, uid, code */
static struct sigaction kev_sig_prev[KEV_NSIG];
static volatile int kev_sig_efd = -1;

static int kev_sig_max(void) { return KEV_NSIG - 1; }

static int kev_sig_default_ignores(int sig)
{
    return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT;
}

static int kev_sig_default_stops(int sig)
{
    return sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU || sig == SIGSTOP;
}

static void kev_sig_handler(int sig, siginfo_t *info, void *uctx)
{
    int saved = errno;
    if (sig <= 0 || sig >= KEV_NSIG)
        return;
    __atomic_fetch_add(&kev_sig_counts[sig], 1, __ATOMIC_RELAXED);
    if (info != NULL) {
        kev_sig_last[sig][0] = info->si_pid;
        kev_sig_last[sig][1] = info->si_uid;
        kev_sig_last[sig][2] = info->si_code;
    }
    int efd = kev_sig_efd;
    if (efd >= 0) {
        uint64_t one = 1;
        ssize_t ignored = write(efd, &one, sizeof one);
        (void)ignored;
    }
    struct sigaction *prev = &kev_sig_prev[sig];
    if (prev->sa_flags & SA_SIGINFO) {
        if (prev->sa_sigaction != NULL)
            prev->sa_sigaction(sig, info, uctx);
    } else if (prev->sa_handler == SIG_DFL) {
        if (kev_sig_default_stops(sig)) {
            raise(SIGSTOP);
        } else if (!kev_sig_default_ignores(sig)) {
            struct sigaction dfl;
            sigset_t set;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigaction(sig, &dfl, NULL);
            sigemptyset(&set);
            sigaddset(&set, sig);
            sigprocmask(SIG_UNBLOCK, &set, NULL);
            raise(sig); /* terminates (or dumps core) as if we had never been here */
        }
    } else if (prev->sa_handler != SIG_IGN && prev->sa_handler != NULL) {
        prev->sa_handler(sig);
    }
    errno = saved;
}

static int kev_sig_is_ours(int sig)
{
    struct sigaction cur;
    if (sig <= 0 || sig >= KEV_NSIG || sigaction(sig, NULL, &cur) < 0)
        return 0;
    return (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == kev_sig_handler;
}

/* Install the counting handler for `sig` (chaining to whatever is there now). */
static int kev_sig_install(int sig, int efd)
{
    struct sigaction cur, ours;
    if (sig <= 0 || sig >= KEV_NSIG || sig == SIGKILL || sig == SIGSTOP)
        return -EINVAL;
    kev_sig_efd = efd;
    if (kev_sig_is_ours(sig))
        return 0;
    if (sigaction(sig, NULL, &cur) < 0)
        return -errno;
    /* SIGCHLD set to SIG_IGN means "reap automatically"; a handler would end that. */
    if (sig == SIGCHLD && !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN)
        return -EPERM;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = kev_sig_handler;
    ours.sa_mask = cur.sa_mask;
    ours.sa_flags = SA_SIGINFO | (cur.sa_flags & (SA_ONSTACK | SA_RESTART | SA_NOCLDSTOP));
    if (!(cur.sa_flags & SA_SIGINFO) && (cur.sa_handler == SIG_IGN || cur.sa_handler == SIG_DFL))
        ours.sa_flags |= SA_RESTART; /* syscalls were never interrupted before: keep it so */
    kev_sig_prev[sig] = cur;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return sigaction(sig, &ours, NULL) < 0 ? -errno : 0;
}

/* Put back the action we replaced, unless someone replaced ours meanwhile. */
static int kev_sig_uninstall(int sig)
{
    if (sig <= 0 || sig >= KEV_NSIG)
        return -EINVAL;
    if (!kev_sig_is_ours(sig))
        return 0;
    return sigaction(sig, &kev_sig_prev[sig], NULL) < 0 ? -errno : 0;
}

static uint64_t kev_sig_count(int sig)
{
    if (sig <= 0 || sig >= KEV_NSIG)
        return 0;
    return __atomic_load_n(&kev_sig_counts[sig], __ATOMIC_RELAXED);
}

static void kev_sig_info(int sig, int64_t *out)
{
    if (sig <= 0 || sig >= KEV_NSIG)
        return;
    out[0] = kev_sig_last[sig][0];
    out[1] = kev_sig_last[sig][1];
    out[2] = kev_sig_last[sig][2];
}
