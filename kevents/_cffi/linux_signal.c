/* EVFILT_SIGNAL on Linux: a counting sigaction handler that chains to the previous one.
 *
 * Story (spec §5.8, §6.5, D16): BSD's EVFILT_SIGNAL counts every generation of a signal
 * and never changes what the signal does. signalfd cannot give that: it sees a signal
 * only while it is blocked in every thread (a library cannot block it in threads that
 * already exist), it consumes the signal (Python handlers and KeyboardInterrupt stop
 * working) and a signalfd read in one thread never sees a signal directed at another
 * thread (pthread_kill). So kevents installs this handler while knotes exist. It is
 * async-signal-safe (atomics, write(2), sigaction(2), sigprocmask(2), raise(3) only):
 *
 *   1. remember the sender's siginfo (seqlock: the reader retries a torn copy);
 *   2. add one to a 64-bit per-signal generation counter (process-wide table);
 *   3. write 1 to one process-wide eventfd that every queue with SIGNAL knotes watches
 *      with EPOLLET: each write is a new edge for every epoll watching it, even while
 *      the count is never read back (verified on 6.18), so one eventfd fans out to all
 *      queues; at one write per signal the 64-bit count cannot saturate;
 *   4. chain to the action it replaced, as the kernel would have run it: the previous
 *      handler (normally CPython's own C handler, so Python handlers and
 *      KeyboardInterrupt still happen) with its own calling convention (SA_SIGINFO or
 *      not); SIG_IGN: nothing; SIG_DFL: the default action, reproduced by letting the
 *      kernel do it (see kev_sig_default).
 *
 * Each knote remembers the counter at registration / last report; `data` is the
 * difference. The handler runs in whichever thread the kernel picks, so thread-directed
 * signals are counted too, like FreeBSD (macOS does not).
 *
 * The previous action is double-buffered: a re-install writes the slot the handler is
 * not reading and then flips the index, so a handler running in another thread at that
 * moment never sees a half-written struct sigaction.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define KEV_SIG_N _NSIG /* 65 with glibc: signals 1..64 */

struct kev_sig_slot {
    uint64_t count;         /* deliveries seen by the handler (atomic) */
    uint64_t seq;           /* seqlock over info: odd while being written */
    int64_t info[3];        /* last sender: pid, uid, si_code */
    struct sigaction prev[2];
    int cur;                /* which prev[] is live (atomic) */
};

static struct kev_sig_slot kev_sig_tab[KEV_SIG_N];
static int kev_sig_efd = -1; /* atomic */

static int kev_sig_max(void) { return KEV_SIG_N - 1; }

static void kev_sig_set_efd(int fd) { __atomic_store_n(&kev_sig_efd, fd, __ATOMIC_SEQ_CST); }

static int kev_sig_ignored_by_default(int sig)
{
    return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT;
}

static void kev_sig_handler(int sig, siginfo_t *info, void *uctx);

static int kev_sig_action_is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == kev_sig_handler;
}

/* The previous action was SIG_DFL: let the kernel apply the default, so its own rules
 * hold (core dumps, stop signals ignored in an orphaned process group, a namespace's
 * pid 1 ignoring what it has no handler for). Terminate/core/stop signals: put SIG_DFL
 * back, unblock the signal in this thread and raise it; if we come back (stopped and
 * continued, or the kernel ignored it) our handler goes back in place, unless someone
 * changed the disposition meanwhile. Ignore-by-default signals: nothing to do (SIGCONT
 * already continued the process when it was sent). */
static void kev_sig_default(int sig)
{
    struct sigaction dfl, ours, now;
    sigset_t one, old;
    if (kev_sig_ignored_by_default(sig))
        return;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    if (sigaction(sig, &dfl, &ours) < 0)
        return;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, &old);
    raise(sig);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (sigaction(sig, NULL, &now) == 0 && !(now.sa_flags & SA_SIGINFO) && now.sa_handler == SIG_DFL)
        sigaction(sig, &ours, NULL);
}

static void kev_sig_chain(int sig, siginfo_t *info, void *uctx, const struct sigaction *prev)
{
    /* sa_handler and sa_sigaction share storage: SIG_DFL/SIG_IGN are tested first,
     * whatever the flags say (SA_SIGINFO with SIG_IGN is legal and must not be called). */
    if (prev->sa_handler == SIG_IGN)
        return;
    if (prev->sa_handler == SIG_DFL) {
        kev_sig_default(sig);
        return;
    }
    if (prev->sa_flags & SA_SIGINFO)
        prev->sa_sigaction(sig, info, uctx);
    else
        prev->sa_handler(sig);
}

static void kev_sig_handler(int sig, siginfo_t *info, void *uctx)
{
    int saved = errno;
    if (sig > 0 && sig < KEV_SIG_N) {
        struct kev_sig_slot *s = &kev_sig_tab[sig];
        if (info != NULL) {
            __atomic_add_fetch(&s->seq, 1, __ATOMIC_ACQ_REL);
            __atomic_store_n(&s->info[0], (int64_t)info->si_pid, __ATOMIC_RELAXED);
            __atomic_store_n(&s->info[1], (int64_t)info->si_uid, __ATOMIC_RELAXED);
            __atomic_store_n(&s->info[2], (int64_t)info->si_code, __ATOMIC_RELAXED);
            __atomic_add_fetch(&s->seq, 1, __ATOMIC_ACQ_REL);
        }
        __atomic_add_fetch(&s->count, 1, __ATOMIC_SEQ_CST);
        int efd = __atomic_load_n(&kev_sig_efd, __ATOMIC_SEQ_CST);
        if (efd >= 0) {
            uint64_t one = 1;
            ssize_t ignored = write(efd, &one, sizeof one);
            (void)ignored;
        }
        int cur = __atomic_load_n(&s->cur, __ATOMIC_ACQUIRE);
        kev_sig_chain(sig, info, uctx, &s->prev[cur & 1]);
    }
    errno = saved;
}

static int kev_sig_is_ours(int sig)
{
    struct sigaction cur;
    if (sig <= 0 || sig >= KEV_SIG_N || sigaction(sig, NULL, &cur) < 0)
        return 0;
    return kev_sig_action_is_ours(&cur);
}

/* Install the counting handler on top of whatever `sig` does now. Returns 1 when it was
 * installed, 0 when it already was, -errno otherwise (EINVAL: SIGKILL, SIGSTOP, out of
 * range or reserved by the C library; EPERM: SIGCHLD is SIG_IGN, which means "reap my
 * children automatically" and would stop meaning it once a handler is set). */
static int kev_sig_install(int sig)
{
    struct sigaction cur, ours;
    if (sig <= 0 || sig >= KEV_SIG_N || sig == SIGKILL || sig == SIGSTOP)
        return -EINVAL;
    if (sigaction(sig, NULL, &cur) < 0)
        return -errno;
    if (kev_sig_action_is_ours(&cur))
        return 0;
    if (sig == SIGCHLD && cur.sa_handler == SIG_IGN)
        return -EPERM;
    struct kev_sig_slot *s = &kev_sig_tab[sig];
    int spare = (__atomic_load_n(&s->cur, __ATOMIC_ACQUIRE) & 1) ^ 1;
    s->prev[spare] = cur;
    __atomic_store_n(&s->cur, spare, __ATOMIC_RELEASE);

    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = kev_sig_handler;
    ours.sa_mask = cur.sa_mask; /* the previous handler runs with the mask it asked for */
    /* Keep the flags that shape delivery as the program set them (SA_NOCLDWAIT keeps
     * auto-reaping, SA_RESETHAND keeps a one-shot handler one-shot, SA_NODEFER keeps a
     * reentrant handler reentrant). A signal that never interrupted system calls
     * (SIG_IGN, or SIG_DFL of an ignore-by-default signal) gets SA_RESTART, so catching
     * it does not make slow calls fail with EINTR where they did not before. */
    ours.sa_flags = SA_SIGINFO | (cur.sa_flags & (SA_ONSTACK | SA_RESTART | SA_NOCLDSTOP |
                                                  SA_NOCLDWAIT | SA_NODEFER | SA_RESETHAND));
    if (cur.sa_handler == SIG_IGN || cur.sa_handler == SIG_DFL)
        ours.sa_flags |= SA_RESTART;
    return sigaction(sig, &ours, NULL) < 0 ? -errno : 1;
}

/* Put back the action our handler replaced. Returns 1 when restored, 0 when our handler
 * was not there (the program replaced it: its choice stands), -errno otherwise. */
static int kev_sig_uninstall(int sig)
{
    if (sig <= 0 || sig >= KEV_SIG_N)
        return -EINVAL;
    if (!kev_sig_is_ours(sig))
        return 0;
    struct kev_sig_slot *s = &kev_sig_tab[sig];
    int cur = __atomic_load_n(&s->cur, __ATOMIC_ACQUIRE) & 1;
    return sigaction(sig, &s->prev[cur], NULL) < 0 ? -errno : 1;
}

static uint64_t kev_sig_count(int sig)
{
    if (sig <= 0 || sig >= KEV_SIG_N)
        return 0;
    return __atomic_load_n(&kev_sig_tab[sig].count, __ATOMIC_SEQ_CST);
}

/* The last sender's pid, uid and si_code. Best effort when two threads handle the same
 * signal at the same instant (then it is one of the two senders, or a mix). */
static void kev_sig_info(int sig, int64_t *out)
{
    if (sig <= 0 || sig >= KEV_SIG_N)
        return;
    struct kev_sig_slot *s = &kev_sig_tab[sig];
    for (int tries = 0; tries < 100; tries++) {
        uint64_t before = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        out[0] = __atomic_load_n(&s->info[0], __ATOMIC_RELAXED);
        out[1] = __atomic_load_n(&s->info[1], __ATOMIC_RELAXED);
        out[2] = __atomic_load_n(&s->info[2], __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (!(before & 1) && __atomic_load_n(&s->seq, __ATOMIC_RELAXED) == before)
            return;
    }
}
